import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { Logger } from '../log.js'

export interface DiscoveryDialerComponents {
  host: Pick<Libp2p, 'addEventListener' | 'removeEventListener' | 'dial' | 'getConnections'>
  log: Logger
}

/** Beyond this many open connections, discovered peers are remembered but not dialled. */
export const MAX_DISCOVERY_CONNECTIONS = 64

/**
 * libp2p 3 only records peers found by mDNS or the bootstrap list; this service dials them,
 * so peers on one LAN (or listed for bootstrap) actually meet.
 */
export function discoveryDialer ({ host, log }: DiscoveryDialerComponents): { start(): void, stop(): void } {
  const pending = new Set<string>()
  const onDiscovery = (event: CustomEvent<PeerInfo>): void => {
    const peer = event.detail
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
      host.addEventListener('peer:discovery', onDiscovery)
    },
    stop () {
      host.removeEventListener('peer:discovery', onDiscovery)
    }
  }
}
