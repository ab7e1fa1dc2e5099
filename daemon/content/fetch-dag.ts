import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { DAG_PROTOCOL, fetchDag, findHeldBlocks, type HeldBlocks } from '../transfer/index.js'
import type { Logger } from '../log.js'
import { ContentNotFoundError, ContentTooLargeError } from './errors.js'

export type Transport = 'auto' | 'bulk' | 'bitswap'

export interface FetchDagComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections' | 'peerStore'>
  /** the local store: fetched blocks land here */
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  /** peers that sent bad blocks; not asked again while this node runs */
  distrusted: Set<string>
  log: Logger
}

export interface FetchDagOutcome {
  /** 'local' when everything was held already; 'bitswap' means: read through the networked store */
  via: 'local' | 'bulk' | 'bitswap'
  peer?: string
  blocks: number
  bytes: number
  /** time spent fetching over the bulk protocol */
  ms: number
}

/** Errors that say the peer misbehaved, rather than that it lacks the content. */
const DISTRUST = new Set(['CorruptBlockError', 'UnexpectedBlockError', 'InvalidBlockError', 'DagProtocolError'])

async function speaksDag (libp2p: FetchDagComponents['libp2p'], peer: PeerId): Promise<boolean> {
  try {
    return (await libp2p.peerStore.get(peer)).protocols.includes(DAG_PROTOCOL)
  } catch {
    // Not identified yet: worth a try, the protocol negotiation will tell.
    return true
  }
}

/**
 * Makes the DAG under `root` whole in the local store. Held already → nothing to do. Else
 * each connected peer that speaks `/floe/dag/1.0.0` is asked in turn (a peer that sends a
 * bad block is distrusted); a cut transfer resumes with the next try. When no peer could
 * send it (or `transport` is 'bitswap'), the caller reads through the bitswap store
 * (store/bitswap.ts), which asks connected peers.
 */
export async function ensureDag (components: FetchDagComponents, root: CID, options: { transport?: Transport, signal?: AbortSignal, onProgress?: (bytes: number) => void, maxBytes?: number } = {}): Promise<FetchDagOutcome> {
  const transport = options.transport ?? 'auto'
  // A peer names the root, so the peer could name a DAG of any size: past `maxBytes` of
  // blocks received, the fetch stops (what came is kept for gc) and no other peer is asked.
  const budget = new AbortController()
  const signal = options.signal == null ? budget.signal : AbortSignal.any([options.signal, budget.signal])
  const counted = (bytes: number): void => {
    if (options.maxBytes != null && bytes > options.maxBytes && !budget.signal.aborted) {
      budget.abort(new ContentTooLargeError(`${root} is more than ${options.maxBytes} bytes, its budget here; stopped fetching it`))
    }
    options.onProgress?.(bytes)
  }
  // the first try reuses this walk; after a failed one the store may hold more, so it walks again
  let held: HeldBlocks | undefined = await findHeldBlocks(components.blockstore, root, { signal: options.signal })
  if (held.wanted.length === 0) return { via: 'local', blocks: 0, bytes: 0, ms: 0 }
  if (transport === 'bitswap') return { via: 'bitswap', blocks: 0, bytes: 0, ms: 0 }

  const failures: string[] = []
  const peers = [...new Map(components.libp2p.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer])).values()]
  for (const peer of peers) {
    const id = peer.toString()
    if (components.distrusted.has(id) || !(await speaksDag(components.libp2p, peer))) continue
    try {
      const started = Date.now()
      const result = await fetchDag(components, peer, root, {
        signal,
        held,
        onProgress: p => { counted(p.bytes) }
      })
      components.log.info({ root: root.toString(), peer: id, blocks: result.blocks, bytes: result.bytes, skipped: result.skippedBlocks, ms: Date.now() - started }, 'fetched DAG over the bulk protocol')
      return { via: 'bulk', peer: id, blocks: result.blocks, bytes: result.bytes, ms: Date.now() - started }
    } catch (err: any) {
      held = undefined
      options.signal?.throwIfAborted()
      budget.signal.throwIfAborted()
      if (DISTRUST.has(err?.name)) {
        components.distrusted.add(id)
        components.log.warn({ root: root.toString(), peer: id, err: err.message }, 'peer sent bad data: distrusted')
      } else {
        components.log.debug({ root: root.toString(), peer: id, err: err?.message }, 'peer could not send the DAG')
      }
      failures.push(`${id}: ${err?.message ?? err}`)
    }
  }
  if (transport === 'bulk') {
    throw new ContentNotFoundError(peers.length === 0
      ? `${root} is not held here and no peer is connected to fetch it from; connect one with floe connect`
      : `no connected peer could send ${root}: ${failures.join('; ') || 'none speaks ' + DAG_PROTOCOL}`)
  }
  return { via: 'bitswap', blocks: 0, bytes: 0, ms: 0 }
}

/** How long a read through bitswap waits for one block before giving up. */
export const BITSWAP_BLOCK_TIMEOUT_MS = 30_000

/**
 * A networked store whose reads give up when no peer answers for a block within `ms`,
 * instead of waiting forever on bitswap.
 */
export function withBlockTimeout (store: Pick<Blockstore, 'get'>, ms = BITSWAP_BLOCK_TIMEOUT_MS): Pick<Blockstore, 'get'> {
  return {
    get (cid, options = {}) {
      const timeout = AbortSignal.timeout(ms)
      const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
      return (async function * () {
        try {
          yield * store.get(cid, { ...options, signal })
        } catch (err) {
          options.signal?.throwIfAborted()
          if (timeout.aborted) throw new ContentNotFoundError(`no connected peer sent block ${cid} within ${ms / 1000} s; is a peer that holds it connected?`)
          throw err
        }
      })()
    }
  }
}
