import type { Libp2p } from '@libp2p/interface'
import type { P2pServices } from '../p2p/index.js'

export const LATENCY_PING_TIMEOUT_MS = 2_000

/**
 * Round-trip times to the given peers that are connected directly, measured now with
 * libp2p ping (all at once, each bounded); peers not connected, or not answering in time,
 * are left out rather than guessed.
 */
export async function peerLatencies (host: Pick<Libp2p<Pick<P2pServices, 'ping'>>, 'getConnections' | 'services'>, peerIds: string[]): Promise<Map<string, number>> {
  const wanted = new Set(peerIds)
  const connected = new Map(host.getConnections().filter(c => c.status === 'open' && wanted.has(c.remotePeer.toString())).map(c => [c.remotePeer.toString(), c.remotePeer]))
  const results = await Promise.allSettled([...connected].map(async ([id, peer]) => {
    const rtt = await host.services.ping.ping(peer, { signal: AbortSignal.timeout(LATENCY_PING_TIMEOUT_MS) })
    return [id, rtt] as const
  }))
  return new Map(results.flatMap(r => r.status === 'fulfilled' ? [r.value] : []))
}
