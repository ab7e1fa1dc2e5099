import type { Offer } from '../../protocol/market/offer.js'
import { OfferRejectedError, type OfferRejection } from '../../protocol/market/offer-record.js'
import { verifyOffer } from './offer-signing.js'

export interface BookEntry {
  offer: Offer
  receivedAt: number
}

export type AcceptResult = 'added' | 'updated' | 'duplicate'

export interface OfferBook {
  /** verifies and files a signed offer; throws OfferRejectedError (counted) when it may not enter */
  accept(record: Uint8Array, options?: { author?: string }): Promise<AcceptResult>
  /** live offers only: expired ones are dropped as they are found */
  list(): BookEntry[]
  get(peerId: string): BookEntry | undefined
  /** the provider is gone */
  remove(peerId: string): boolean
  rejections(): Partial<Record<OfferRejection, number>>
}

/**
 * The offers this node knows: the newest from each provider, while it lasts. A sequence
 * number no newer than the one held is a replay; the same offer again is a duplicate.
 */
export function offerBook (options: { now?: () => number } = {}): OfferBook {
  const now = options.now ?? Date.now
  const entries = new Map<string, BookEntry>()
  const rejected = new Map<OfferRejection, number>()
  const count = (reason: OfferRejection): void => { rejected.set(reason, (rejected.get(reason) ?? 0) + 1) }
  const live = (entry: BookEntry | undefined): entry is BookEntry => {
    if (entry == null) return false
    if (entry.offer.expiresAt > now()) return true
    entries.delete(entry.offer.peerId)
    return false
  }
  return {
    async accept (record, acceptOptions = {}) {
      try {
        const offer = await verifyOffer(record, { now: now(), author: acceptOptions.author })
        const held = entries.get(offer.peerId)
        if (live(held)) {
          if (offer.seq === held.offer.seq) return 'duplicate'
          if (offer.seq < held.offer.seq) throw new OfferRejectedError('replayed', `offer ${offer.seq} from ${offer.peerId} is older than the one held (${held.offer.seq})`)
        }
        entries.set(offer.peerId, { offer, receivedAt: now() })
        return held == null ? 'added' : 'updated'
      } catch (err: any) {
        if (err instanceof OfferRejectedError) count(err.reason)
        throw err
      }
    },
    list () {
      return [...entries.values()].filter(live)
    },
    get (peerId) {
      const entry = entries.get(peerId)
      return live(entry) ? entry : undefined
    },
    remove (peerId) {
      return entries.delete(peerId)
    },
    rejections () {
      return Object.fromEntries(rejected) as Partial<Record<OfferRejection, number>>
    }
  }
}
