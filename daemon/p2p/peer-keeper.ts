import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import type { KnownPeer } from '../../protocol/p2p/peer.js'
import type { Logger } from '../log.js'
import { parseMultiaddr } from './peers.js'

/** How often peers worth keeping that are not connected are dialled again (at most). */
export const KEEP_RETRY_MS = 10_000
/** A peer that keeps not answering is tried less often, up to this. */
const MAX_BACKOFF_MS = 5 * 60_000
/** Peers dialled at once by one round. */
const DIALS_PER_ROUND = 8
/** The peer-store tag `floe connect` puts on a peer: kept connected across restarts. */
export const CONNECT_TAG = 'floe-connect'
/** Peers the store keeps across restarts; past it, the longest unseen ones that are not kept go at start. */
export const MAX_KNOWN_PEERS = 5_000
/** A peer not kept and not seen for this long is forgotten at start. */
const FORGET_AFTER_MS = 30 * 24 * 3600_000
/** When a connection to the peer last opened (peer-store metadata, ms since the epoch as text). */
const LAST_SEEN_KEY = 'floe-last-seen'

/** The peer store's datastore, on disk in the home: addresses learnt outlive a restart. */
export async function openPeerStore (path: string): Promise<LevelDatastore> {
  const store = new LevelDatastore(path)
  await store.open()
  return store
}

export type KeptReason = KnownPeer['kept'][number]

export interface PeerKeeperComponents {
  host: Pick<Libp2p, 'dial' | 'getConnections' | 'peerStore' | 'addEventListener' | 'removeEventListener' | 'peerId'>
  /** the bootstrap list (config) */
  bootstrap: string[]
  /** peers the node needs now: members of its projects, providers of its unfinished jobs */
  wanted: () => Promise<Array<{ peerId: string, reason: KeptReason }>>
  log: Logger
}

/**
 * Keeps this node connected to the peers worth keeping: its bootstrap list, peers it was told
 * to connect to (`floe connect`, remembered in the peer store on disk), members of its
 * projects and providers of its unfinished jobs. Each round (KEEP_RETRY_MS) dials those not
 * connected, by peer id: libp2p dials the addresses the peer store holds for it, relayed ones
 * first (a NATed peer comes back through its relay). A peer that does not answer waits longer
 * each time, up to MAX_BACKOFF_MS; one that connects by itself resets. (libp2p's bootstrap
 * module dials once: a dial refused then was never tried again.)
 */
export function peerKeeper ({ host, bootstrap, wanted, log }: PeerKeeperComponents) {
  const boot: Array<{ addr: Multiaddr, peerId: string | undefined }> = bootstrap.map(text => {
    const addr = parseMultiaddr(text)
    return { addr, peerId: addr.getComponents().findLast(c => c.name === 'p2p')?.value }
  })
  const self = host.peerId.toString()
  const failures = new Map<string, { count: number, next: number }>()
  const dialling = new Set<string>()
  // peers `floe connect` tagged: read from the store once at start, then kept here (keep() is
  // the only writer), so a round does not scan the whole peer store every KEEP_RETRY_MS
  const connectTagged = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const onConnect = (event: CustomEvent<PeerId>): void => {
    const peer = event.detail
    failures.delete(peer.toString())
    host.peerStore.merge(peer, { metadata: { [LAST_SEEN_KEY]: new TextEncoder().encode(String(Date.now())) } })
      .catch((err: Error) => { log.debug({ peer: peer.toString(), err: err.message }, 'could not note when the peer was seen') })
  }

  const kept = async (): Promise<Map<string, Set<KeptReason>>> => {
    const reasons = new Map<string, Set<KeptReason>>()
    const add = (peer: string, reason: KeptReason): void => {
      if (peer === self) return
      const set = reasons.get(peer) ?? new Set()
      set.add(reason)
      reasons.set(peer, set)
    }
    for (const { peerId } of boot) if (peerId != null) add(peerId, 'bootstrap')
    for (const peer of connectTagged) add(peer, 'connect')
    for (const { peerId, reason } of await wanted()) add(peerId, reason)
    return reasons
  }

  const dial = (target: PeerId | Multiaddr, key: string): void => {
    const failed = failures.get(key)
    if (dialling.has(key) || (failed != null && failed.next > Date.now())) return
    dialling.add(key)
    host.dial(target, { signal: AbortSignal.timeout(KEEP_RETRY_MS * 2) })
      .then(() => { failures.delete(key); log.info({ peer: key }, 'connected to a kept peer') })
      .catch((err: Error) => {
        const count = (failed?.count ?? 0) + 1
        failures.set(key, { count, next: Date.now() + Math.min(MAX_BACKOFF_MS, KEEP_RETRY_MS * 2 ** Math.min(count, 10)) })
        log.debug({ peer: key, err: err.message, tries: count }, 'kept peer not reachable yet')
      })
      .finally(() => dialling.delete(key))
  }

  const round = async (): Promise<void> => {
    const connected = new Set(host.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))
    let budget = DIALS_PER_ROUND
    // bootstrap peers by address (the peer store may not know them yet)
    for (const { addr, peerId } of boot) {
      if (budget === 0) return
      if (peerId != null && connected.has(peerId)) continue
      dial(addr, peerId ?? addr.toString())
      budget--
    }
    for (const [peer] of await kept()) {
      if (budget === 0) return
      if (connected.has(peer) || boot.some(b => b.peerId === peer)) continue
      const id = peerIdFromString(peer)
      const known = await host.peerStore.get(id).then(p => p.addresses.length > 0, () => false)
      if (!known) continue
      dial(id, peer)
      budget--
    }
  }
  const tick = (): void => { round().catch((err: Error) => { log.warn({ err: err.message }, 'could not redial kept peers') }) }

  /**
   * Every peer that connects (or that a peer names in identify, DHT, gossip) lands in the store,
   * which is on disk: bounded at start, so strangers cannot grow it without end across restarts.
   * The same read finds the peers `floe connect` tagged.
   */
  const load = async (): Promise<void> => {
    const peers = await host.peerStore.all()
    for (const p of peers) if (p.tags.has(CONNECT_TAG)) connectTagged.add(p.id.toString())
    const seen = (p: (typeof peers)[number]): number => {
      const at = p.metadata.get(LAST_SEEN_KEY)
      return at == null ? 0 : Number(new TextDecoder().decode(at)) || 0
    }
    const bootIds = new Set(boot.map(b => b.peerId))
    const removable = peers.filter(p => !p.tags.has(CONNECT_TAG) && !bootIds.has(p.id.toString())).sort((a, b) => seen(a) - seen(b))
    const excess = Math.max(0, peers.length - MAX_KNOWN_PEERS)
    const stale = removable.filter((p, i) => i < excess || (seen(p) > 0 && Date.now() - seen(p) > FORGET_AFTER_MS))
    for (const p of stale) await host.peerStore.delete(p.id)
    if (stale.length > 0) log.info({ forgotten: stale.length, kept: peers.length - stale.length }, 'forgot peers not seen for long')
  }

  return {
    start () {
      if (timer != null) return
      host.addEventListener('peer:connect', onConnect)
      load().catch((err: Error) => { log.warn({ err: err.message }, 'could not read or prune the peer store') }).finally(tick)
      timer = setInterval(tick, KEEP_RETRY_MS)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      timer = undefined
      host.removeEventListener('peer:connect', onConnect)
    },
    /** `floe connect`: remember the peer (on disk) so it is redialled after a restart or a drop */
    async keep (peerId: string): Promise<void> {
      await host.peerStore.merge(peerIdFromString(peerId), { tags: { [CONNECT_TAG]: { value: 50 } } })
      connectTagged.add(peerId)
    },
    /** `floe peers --known`: every peer the store holds an address for */
    async known (): Promise<KnownPeer[]> {
      const reasons = await kept()
      const connected = new Set(host.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))
      const peers = await host.peerStore.all({ filters: [p => p.addresses.length > 0] })
      return peers.map(p => {
        const id = p.id.toString()
        const seen = p.metadata.get(LAST_SEEN_KEY)
        const at = seen == null ? NaN : Number(new TextDecoder().decode(seen))
        return {
          peerId: id,
          addrs: p.addresses.map(a => a.multiaddr.toString()).slice(0, 16),
          kept: [...(reasons.get(id) ?? [])].sort(),
          connected: connected.has(id),
          lastSeen: Number.isFinite(at) ? new Date(at).toISOString() : null,
          floe: p.protocols.some(proto => proto.startsWith('/floe/job/'))
        }
      }).sort((a, b) => Number(b.connected) - Number(a.connected) || b.kept.length - a.kept.length || a.peerId.localeCompare(b.peerId))
    }
  }
}

export type PeerKeeper = ReturnType<typeof peerKeeper>
