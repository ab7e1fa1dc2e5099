import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { RelayLimitedError } from './errors.js'

/**
 * A stream for control traffic (job negotiation, logs, terminals, project sync), which may go
 * through a relay: over an open connection to the peer, a direct one first, else a relayed
 * one; over a new dial when none is open. (libp2p's `dialProtocol` ignores a relayed connection
 * and dials again, which would open one more relayed connection through the relay per stream.)
 * Bulk content never comes this way: `/floe/dag` streams wait for a direct connection
 * (content/require-dag.ts), unless the relay's owner made it unlimited.
 */
export async function openControlStream (libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections'>, peer: PeerId, protocols: string | string[], options: { signal?: AbortSignal, maxOutboundStreams?: number } = {}): Promise<Stream> {
  const open = libp2p.getConnections(peer).filter(c => c.status === 'open')
  const connection = open.find(c => c.limits == null) ?? open[0]
  if (connection != null) return await connection.newStream(protocols, { ...options, runOnLimitedConnection: true })
  return await libp2p.dialProtocol(peer, protocols, { ...options, runOnLimitedConnection: true })
}

/** How long bulk content waits for a relayed connection to become direct (DCUtR takes a few round trips). */
export const DIRECT_WAIT_MS = 20_000

/**
 * For bulk content: resolves when an unlimited connection to the peer is open (direct, or
 * through a relay whose owner allows unlimited relaying); throws RelayLimitedError when the
 * only connections are limited relayed ones and none became direct within `ms`. With no
 * connection at all it dials the peer first (a relayed connection is then upgraded by DCUtR); a
 * dial that fails is left to the caller's own dial to report.
 */
export async function awaitUnlimited (libp2p: Pick<Libp2p, 'getConnections' | 'dial'>, peer: PeerId, options: { ms?: number, signal?: AbortSignal } = {}): Promise<void> {
  const deadline = Date.now() + (options.ms ?? DIRECT_WAIT_MS)
  let dialled = false
  while (true) {
    const open = libp2p.getConnections(peer).filter(c => c.status === 'open')
    if (open.some(c => c.limits == null)) return
    if (open.length === 0) {
      if (dialled) return
      dialled = true
      const connection = await libp2p.dial(peer, { signal: options.signal }).catch(() => undefined)
      if (connection == null || connection.limits == null) return
      continue
    }
    if (Date.now() >= deadline) {
      throw new RelayLimitedError(`${peer} is reached only through a relay that limits what it carries, and no direct connection came within ${Math.round((options.ms ?? DIRECT_WAIT_MS) / 1000)} s (hole punching failed: a symmetric NAT or a firewall on one side); content needs a direct path, or a relay whose owner allows unlimited relaying (config relay.unlimited)`)
    }
    options.signal?.throwIfAborted()
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}
