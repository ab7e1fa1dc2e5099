import type { Connection, Libp2p } from '@libp2p/interface'
import type { Logger } from '../log.js'

/** How often relayed-only peers are looked for (a walk over the open connections). */
export const UPGRADE_CHECK_MS = 5_000
/**
 * A peer whose punch failed is tried again after this, doubling each time up to MAX_RETRY_MS
 * (a symmetric NAT never works). Short at first: a punch between two loaded machines can miss
 * its moment, and the next one usually lands (was 30 s, checked every 15 s: a missed punch then
 * left a peer relayed for 45 s or more).
 */
const FIRST_RETRY_MS = 10_000
const MAX_RETRY_MS = 10 * 60_000

/** What @libp2p/dcutr's service does, beyond its typed face: the hole punch over one relayed connection. */
interface HolePuncher {
  upgradeInbound(relayed: Connection): Promise<void>
}

/**
 * Retries hole punching for peers reached only through a relay. libp2p's DCUtR tries once, when
 * a relayed connection comes in; a connection made before this node knew its public mapping
 * (its reachability check answers a few seconds after start) was never punched again, and
 * stayed relayed for its whole life. Here any side may start it again (the DCUtR messages are
 * the same both ways; punch-tcp.ts settles the roles of the connection it makes).
 */
export function directUpgrader ({ host, punch, log }: { host: Pick<Libp2p, 'getConnections' | 'addEventListener' | 'removeEventListener'>, punch: HolePuncher, log: Logger }) {
  const tries = new Map<string, { next: number, wait: number }>()
  const running = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let soon: NodeJS.Timeout | undefined

  const round = (): void => {
    const byPeer = new Map<string, Connection[]>()
    for (const c of host.getConnections()) {
      if (c.status !== 'open') continue
      const key = c.remotePeer.toString()
      byPeer.set(key, [...(byPeer.get(key) ?? []), c])
    }
    for (const key of tries.keys()) if (!byPeer.has(key)) tries.delete(key)
    for (const [peer, conns] of byPeer) {
      if (conns.some(c => c.limits == null)) { tries.delete(peer); continue }
      const tried = tries.get(peer)
      if (running.has(peer) || (tried != null && tried.next > Date.now())) continue
      const relayed = conns[0]
      if (relayed == null) continue
      running.add(peer)
      const wait = Math.min(MAX_RETRY_MS, tried == null ? FIRST_RETRY_MS : tried.wait * 2)
      tries.set(peer, { next: Date.now() + wait, wait })
      punch.upgradeInbound(relayed)
        .then(() => { log.debug({ peer }, 'hole punch tried again') })
        .catch((err: Error) => { log.debug({ peer, err: err.message }, 'hole punch failed') })
        .finally(() => running.delete(peer))
    }
  }
  // this node's addresses changed (its public mapping confirmed): worth a try at once
  const onSelfUpdate = (): void => {
    tries.clear()
    clearTimeout(soon)
    soon = setTimeout(round, 1_000)
    soon.unref()
  }
  return {
    start () {
      if (timer != null) return
      host.addEventListener('self:peer:update', onSelfUpdate)
      timer = setInterval(round, UPGRADE_CHECK_MS)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      clearTimeout(soon)
      timer = undefined
      host.removeEventListener('self:peer:update', onSelfUpdate)
    }
  }
}
