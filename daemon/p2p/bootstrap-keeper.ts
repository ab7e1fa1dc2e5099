import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.js'
import { parseMultiaddr } from './peers.js'

export const BOOTSTRAP_RETRY_MS = 10_000

/**
 * Keeps this node connected to its bootstrap peers: dials each at start, and every
 * BOOTSTRAP_RETRY_MS again each one not connected. (libp2p's bootstrap module dials once:
 * a dial refused then — the peer busy, its inbound limits reached, not up yet — was never
 * tried again, which the market benchmark showed with 25 providers on one client.)
 */
export function bootstrapKeeper ({ host, addrs, log }: { host: Pick<Libp2p, 'dial' | 'getConnections'>, addrs: string[], log: Logger }): { start(): void, stop(): void } {
  const peers: Array<{ addr: Multiaddr, peerId: string | undefined }> = addrs.map(text => {
    const addr = parseMultiaddr(text)
    return { addr, peerId: addr.getComponents().findLast(c => c.name === 'p2p')?.value }
  })
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    const connected = new Set(host.getConnections().map(c => c.remotePeer.toString()))
    for (const { addr, peerId } of peers) {
      if (peerId != null && connected.has(peerId)) continue
      host.dial(addr, { signal: AbortSignal.timeout(BOOTSTRAP_RETRY_MS) })
        .then(() => { log.info({ addr: addr.toString() }, 'connected to bootstrap peer') })
        .catch((err: Error) => { log.debug({ addr: addr.toString(), err: err.message }, 'bootstrap peer not reachable yet') })
    }
  }
  return {
    start () {
      if (timer != null || peers.length === 0) return
      check()
      timer = setInterval(check, BOOTSTRAP_RETRY_MS)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      timer = undefined
    }
  }
}
