import type { Offer } from '../../protocol/market/offer.js'
import { OfferRejectedError, type OfferRejection } from '../../protocol/market/offer-record.js'
import { verifyOffer } from './offer-signing.js'

/** Who handed an offer to this node: the connection (peer) and its remote address (IP). */
export interface OfferSource {
  peer: string
  /** the connection's remote host, when known (one machine may open many connections) */
  address?: string
}

export interface BookEntry {
  offer: Offer
  receivedAt: number
}

export type AcceptResult = 'added' | 'updated' | 'duplicate'

export interface OfferBook {
  /**
   * verifies and files a signed offer; throws OfferRejectedError (counted) when it may not
   * enter. `source`: the peer that relayed it (none: this node's own offer).
   */
  accept(record: Uint8Array, options?: { author?: string, source?: OfferSource }): Promise<AcceptResult>
  /** live offers only: expired ones are dropped as they are found */
  list(): BookEntry[]
  get(peerId: string): BookEntry | undefined
  /** the provider is gone */
  remove(peerId: string): boolean
  rejections(): Partial<Record<OfferRejection, number>>
  /** offers held, expired ones not yet dropped included */
  size(): number
}

/**
 * How many offers the book holds, and how many one relay may bring.
 *
 * Peer ids cost nothing (a fresh key each), so a peer can sign offers for as many providers
 * as it likes; each lives up to MAX_OFFER_LIFETIME_MS (10 min). Without bounds the book
 * grows with a flooder's speed. An offer record is at most 16 KiB on the wire (about 1 KiB
 * for a real one), so:
 *   - total 1024: at most ~16 MiB of offers even when all are the largest allowed; far more
 *     providers than one gossip mesh carries (the market beyond it goes through the DHT and
 *     quotes, DESIGN.md "Market at scale").
 *   - per relaying peer 256 and per relaying address 512: one connection, or one machine
 *     with many connections (fresh peer ids each), gets at most a quarter or a half of the
 *     book; honest relays bring what their neighbourhood announces, which is a few.
 * A provider's offer handed over by the provider itself (source = author, over its own
 * connection: one per connection, which the connection manager bounds) is not counted
 * against a relay and is never evicted for a relayed one.
 */
export const OFFER_BOOK_LIMITS = { total: 1024, perPeer: 256, perAddress: 512 }

export type OfferBookLimits = typeof OFFER_BOOK_LIMITS

/** Expired offers are looked for at a limit at most this often (a sweep walks the whole book). */
const SWEEP_EVERY_MS = 1_000

interface Held extends BookEntry {
  /** in which order providers entered the book: long-standing ones are evicted last */
  order: number
  /** the relay's group (its address, else its peer id) and peer; null: the author itself handed it */
  group: string | null
  peer: string | null
}

/**
 * The offers this node knows: the newest from each provider, while it lasts. A sequence
 * number no newer than the one held is a replay; the same offer again is a duplicate.
 * Bounded (OFFER_BOOK_LIMITS): a relay at its share is refused ('crowded'); when the book is
 * full, a newcomer takes the place of the newest offer of the relay group that holds the
 * most, if that group holds more than the newcomer's would (each relay group gets a fair
 * share; a flood only displaces itself); expired offers go first.
 */
export function offerBook (options: { now?: () => number, limits?: Partial<OfferBookLimits> } = {}): OfferBook {
  const now = options.now ?? Date.now
  const limits = { ...OFFER_BOOK_LIMITS, ...options.limits }
  const entries = new Map<string, Held>()
  /** relayed offers held per relay group and per relaying peer */
  const byGroup = new Map<string, number>()
  const byPeer = new Map<string, number>()
  const rejected = new Map<OfferRejection, number>()
  const count = (reason: OfferRejection): void => { rejected.set(reason, (rejected.get(reason) ?? 0) + 1) }
  const bump = (map: Map<string, number>, key: string | null, by: number): void => {
    if (key == null) return
    const next = (map.get(key) ?? 0) + by
    if (next <= 0) map.delete(key)
    else map.set(key, next)
  }
  const drop = (peerId: string): boolean => {
    const held = entries.get(peerId)
    if (held == null) return false
    entries.delete(peerId)
    bump(byGroup, held.group, -1)
    bump(byPeer, held.peer, -1)
    return true
  }
  const put = (held: Held): void => {
    drop(held.offer.peerId)
    entries.set(held.offer.peerId, held)
    bump(byGroup, held.group, 1)
    bump(byPeer, held.peer, 1)
  }
  const live = (entry: Held | undefined): entry is Held => {
    if (entry == null) return false
    if (entry.offer.expiresAt > now()) return true
    drop(entry.offer.peerId)
    return false
  }
  let entered = 0
  let sweptAt = -Infinity
  /** Drops expired offers; a flood at a limit asks on every message, so at most once a second. */
  const sweep = (): void => {
    if (now() - sweptAt < SWEEP_EVERY_MS) return
    sweptAt = now()
    for (const entry of [...entries.values()]) live(entry)
  }
  const groupOf = (source: OfferSource | undefined, author: string): { group: string | null, peer: string | null } => {
    if (source == null || source.peer === author) return { group: null, peer: null }
    return { group: source.address != null ? `ip:${source.address}` : `peer:${source.peer}`, peer: source.peer }
  }

  /** Room for a newcomer of `group` (null: handed over by its author), or false. */
  const makeRoom = (group: string | null): boolean => {
    if (entries.size < limits.total) return true
    sweep()
    if (entries.size < limits.total) return true
    let largest: string | undefined
    for (const [key, n] of byGroup) if (largest == null || n > (byGroup.get(largest) ?? 0)) largest = key
    if (largest == null) return false // all handed over by their authors: none is displaced
    const mine = group == null ? 0 : (byGroup.get(group) ?? 0) + 1
    if ((byGroup.get(largest) ?? 0) <= mine) return false
    let newest: Held | undefined
    for (const entry of entries.values()) {
      if (entry.group === largest && (newest == null || entry.order > newest.order)) newest = entry
    }
    if (newest == null) return false
    drop(newest.offer.peerId)
    return true
  }

  return {
    async accept (record, acceptOptions = {}) {
      try {
        const offer = await verifyOffer(record, { now: now(), author: acceptOptions.author })
        const held = entries.get(offer.peerId)
        const { group, peer } = groupOf(acceptOptions.source, offer.peerId)
        if (live(held)) {
          if (offer.seq === held.offer.seq) return 'duplicate'
          if (offer.seq < held.offer.seq) throw new OfferRejectedError('replayed', `offer ${offer.seq} from ${offer.peerId} is older than the one held (${held.offer.seq})`)
          // a newer offer of a provider held: no growth; its author handing it over makes it its own
          const own = group == null || held.group == null
          put({ offer, receivedAt: now(), order: held.order, group: own ? null : held.group, peer: own ? null : held.peer })
          return 'updated'
        }
        const atShare = (): boolean => (peer != null && (byPeer.get(peer) ?? 0) >= limits.perPeer) ||
          (group != null && group.startsWith('ip:') && (byGroup.get(group) ?? 0) >= limits.perAddress)
        if (atShare()) sweep()
        if (peer != null && (byPeer.get(peer) ?? 0) >= limits.perPeer) {
          throw new OfferRejectedError('crowded', `peer ${peer} relayed ${limits.perPeer} offers held already`)
        }
        if (group != null && group.startsWith('ip:') && (byGroup.get(group) ?? 0) >= limits.perAddress) {
          throw new OfferRejectedError('crowded', `address ${group.slice(3)} relayed ${limits.perAddress} offers held already`)
        }
        if (!makeRoom(group)) throw new OfferRejectedError('crowded', `the offer book holds ${limits.total} offers, and ${peer ?? offer.peerId} relays its share of them`)
        put({ offer, receivedAt: now(), order: ++entered, group, peer })
        return 'added'
      } catch (err: any) {
        if (err instanceof OfferRejectedError) count(err.reason)
        throw err
      }
    },
    list () {
      return [...entries.values()].filter(live).map(({ offer, receivedAt }) => ({ offer, receivedAt }))
    },
    get (peerId) {
      const entry = entries.get(peerId)
      return live(entry) ? { offer: entry.offer, receivedAt: entry.receivedAt } : undefined
    },
    remove (peerId) {
      return drop(peerId)
    },
    rejections () {
      return Object.fromEntries(rejected) as Partial<Record<OfferRejection, number>>
    },
    size: () => entries.size
  }
}
