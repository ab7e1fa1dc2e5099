import type { Libp2p } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Circuit } from '@multiformats/multiaddr-matcher'
import type { PeerInfo } from '../../protocol/p2p/peer.js'
import { DialError, DialTimeoutError, InvalidMultiaddrError } from './errors.js'

export const DIAL_TIMEOUT_MS = 15_000

/** One row per connected peer (the first open connection when there are several). */
export function listPeers (host: Pick<Libp2p, 'getConnections'>): PeerInfo[] {
  const byPeer = new Map<string, PeerInfo>()
  for (const conn of host.getConnections()) {
    if (conn.status !== 'open') continue
    const peerId = conn.remotePeer.toString()
    const seen = byPeer.get(peerId)
    // a peer reached both through a relay and directly is shown by its direct connection
    if (seen != null && !(seen.via === 'relayed' && conn.limits == null && !Circuit.matches(conn.remoteAddr))) continue
    byPeer.set(peerId, {
      peerId,
      addr: conn.remoteAddr.toString(),
      direction: conn.direction,
      openedAt: new Date(conn.timeline.open).toISOString(),
      rttMs: conn.rtt ?? null,
      via: conn.limits != null || Circuit.matches(conn.remoteAddr) ? 'relayed' : 'direct'
    })
  }
  return [...byPeer.values()].sort((a, b) => a.peerId.localeCompare(b.peerId))
}

export function parseMultiaddr (text: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err: any) {
    throw new InvalidMultiaddrError(`"${text}" is not a valid multiaddr (${err?.message ?? err}); expected e.g. /ip4/127.0.0.1/tcp/4460/p2p/12D3KooW…`)
  }
}

/** Dials a peer and returns who answered, bounded by DIAL_TIMEOUT_MS and the caller's signal. */
export async function connectPeer (host: Pick<Libp2p, 'dial' | 'peerId'>, addrText: string, options: { signal?: AbortSignal } = {}): Promise<{ peerId: string, addr: string }> {
  const addr = parseMultiaddr(addrText)
  const target = addr.getComponents().findLast(c => c.name === 'p2p')?.value
  if (target != null && target === host.peerId.toString()) {
    throw new DialError(`${addrText} is this node's own address; give the address of another peer`)
  }
  const timeout = AbortSignal.timeout(DIAL_TIMEOUT_MS)
  const signal = options.signal == null ? timeout : AbortSignal.any([timeout, options.signal])
  try {
    const conn = await host.dial(addr, { signal })
    return { peerId: conn.remotePeer.toString(), addr: conn.remoteAddr.toString() }
  } catch (err: any) {
    if (timeout.aborted) throw new DialTimeoutError(`no answer from ${addrText} within ${DIAL_TIMEOUT_MS / 1000} s; check the address and that the peer is running`)
    throw new DialError(`could not connect to ${addrText}: ${err?.message ?? err}`)
  }
}
