import type { Libp2p, PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PROVIDERS_KEY_TEXT } from '../../protocol/ids.js'
import type { Logger } from '../log.js'

/** The well-known DHT key floe providers announce themselves under. */
export async function providersKey (): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(PROVIDERS_KEY_TEXT)))
}

/** How often a provider announces itself again, and a node looks for providers it is not connected to. */
export const ANNOUNCE_INTERVAL_MS = 10 * 60_000
export const LOOKUP_INTERVAL_MS = 60_000
/** The first lookups, after start: soon (once the bootstrap peers fill the routing table), then thinning out to LOOKUP_INTERVAL_MS. */
export const EARLY_LOOKUPS_MS = [2_000, 5_000, 10_000, 20_000, 40_000]
const LOOKUP_TIMEOUT_MS = 20_000
/** Providers dialled per lookup at most: a busy DHT must not make a node dial the world. */
export const MAX_DIALS_PER_LOOKUP = 16

export interface ProviderDiscoveryComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'contentRouting' | 'getConnections' | 'dial' | 'peerStore'>
  /** whether this node is a provider now */
  providing: () => boolean
  /** whether a provider's offer reaches this node already (then there is no need to dial it) */
  known: (peerId: string) => boolean
  log: Logger
}

/**
 * Discovery beyond the gossip mesh: a provider announces itself in floe's DHT under
 * PROVIDERS_KEY_TEXT (soon after start, when provider mode turns on, and every
 * ANNOUNCE_INTERVAL_MS); every node looks the key up (often at first, then every
 * LOOKUP_INTERVAL_MS) and dials the providers whose offers do not reach it yet, so they
 * then do, directly over gossipsub.
 */
export function providerDiscovery ({ libp2p, providing, known, log }: ProviderDiscoveryComponents) {
  let timers: NodeJS.Timeout[] = []
  let life: AbortController | undefined
  const self = libp2p.peerId.toString()
  let lastFound = ''

  const announce = async (): Promise<void> => {
    if (life == null || !providing()) return
    await libp2p.contentRouting.provide(await providersKey(), { signal: AbortSignal.any([life.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]) })
    log.debug('announced as a provider in the DHT')
  }

  /** One lookup: the providers found, and those newly dialled. */
  const lookup = async (): Promise<{ found: string[], dialled: string[] }> => {
    const found: string[] = []
    const dialled: string[] = []
    if (life == null) return { found, dialled }
    const signal = AbortSignal.any([life.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)])
    const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const dials: Array<Promise<void>> = []
    for await (const provider of libp2p.contentRouting.findProviders(await providersKey(), { signal })) {
      const id = provider.id.toString()
      if (id === self || found.includes(id)) continue
      found.push(id)
      if (connected.has(id) || known(id) || dials.length >= MAX_DIALS_PER_LOOKUP) continue
      dials.push(dial(provider.id, provider.multiaddrs, signal).then(ok => { if (ok) dialled.push(id) }))
    }
    await Promise.all(dials)
    const seen = [...found].sort().join(',')
    if (seen !== lastFound || dialled.length > 0) log.info({ found, dialled }, 'providers found in the DHT')
    lastFound = seen
    return { found, dialled }
  }

  const dial = async (peer: PeerId, addrs: Parameters<Libp2p['peerStore']['merge']>[1]['multiaddrs'], signal: AbortSignal): Promise<boolean> => {
    try {
      if (addrs != null && addrs.length > 0) await libp2p.peerStore.merge(peer, { multiaddrs: addrs })
      await libp2p.dial(peer, { signal })
      return true
    } catch (err: any) {
      log.debug({ peer: peer.toString(), err: err?.message }, 'could not dial a provider found in the DHT')
      return false
    }
  }

  const logged = (what: string, run: () => Promise<unknown>) => (): void => {
    run().catch((err: Error) => { if (life != null) log.debug({ err: err.message }, `DHT ${what} failed`) })
  }

  return {
    /** announces now (when a provider); a failure is logged, the next round tries again */
    announce: async (): Promise<void> => { await announce().catch((err: Error) => { log.debug({ err: err.message }, 'DHT announce failed') }) },
    lookup,
    start (): void {
      if (life != null) return
      life = new AbortController()
      timers = [
        ...EARLY_LOOKUPS_MS.map(ms => setTimeout(logged('lookup', lookup), ms)),
        ...EARLY_LOOKUPS_MS.slice(0, 2).map(ms => setTimeout(logged('announce', announce), ms)),
        setInterval(logged('lookup', lookup), LOOKUP_INTERVAL_MS),
        setInterval(logged('announce', announce), ANNOUNCE_INTERVAL_MS)
      ]
      for (const timer of timers) timer.unref()
    },
    stop (): void {
      for (const timer of timers) clearTimeout(timer)
      timers = []
      life?.abort()
      life = undefined
    }
  }
}

export type ProviderDiscovery = ReturnType<typeof providerDiscovery>
