import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { Logger } from '../log.js'

export interface DiscoveryDialerComponents {
  host: Pick<Libp2p, 'dial' | 'getConnections'>
  /** the mDNS service, when on: the peers it finds on the LAN */
  lan?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>
  log: Logger
}

/** Beyond this many open connections, discovered peers are remembered but not dialled. */
export const MAX_DISCOVERY_CONNECTIONS = 64

/**
 * libp2p 3 only records peers found by mDNS; this service dials them, so peers on one LAN
 * actually meet. Peers the DHT learns of are not dialled here: in a large network that would
 * connect everyone to everyone (provider-discovery.ts dials the providers a node needs).
 */
export function discoveryDialer ({ host, lan, log }: DiscoveryDialerComponents): { start(): void, stop(): void } {
  const pending = new Set<string>()
  const onDiscovery = (event: Event): void => {
    const peer = (event as CustomEvent<PeerInfo>).detail
    const id = peer.id.toString()
    if (pending.has(id)) return
    const connections = host.getConnections()
    if (connections.length >= MAX_DISCOVERY_CONNECTIONS) return
    if (connections.some(conn => conn.remotePeer.equals(peer.id))) return
    pending.add(id)
    host.dial(peer.id, { signal: AbortSignal.timeout(15_000) })
      .then(() => { log.info({ peer: id }, 'connected to discovered peer') })
      .catch((err: Error) => { log.debug({ peer: id, err: err.message }, 'could not dial discovered peer') })
      .finally(() => pending.delete(id))
  }
  return {
    start () {
      lan?.addEventListener('peer', onDiscovery)
    },
    stop () {
      lan?.removeEventListener('peer', onDiscovery)
    }
  }
}
