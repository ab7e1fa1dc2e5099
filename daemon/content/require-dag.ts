import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { blockLinks, mayHaveLinks } from '../store/block-links.js'
import { readBlock } from '../store/read-block.js'
import { DAG_PROTOCOL, fetchDag, findHeldBlocks, type HeldBlocks } from '../transfer/index.js'
import type { Logger } from '../log.js'
import { awaitUnlimited } from '../p2p/open-stream.js'
import { ContentTooLargeError, ContentUnavailableError } from './errors.js'

/**
 * How a DAG may come: `bulk`, over `/floe/dag` from connected floe peers (the default: jobs
 * must not wait on bitswap for peers that lack it); `bitswap`, block by block from any
 * connected IPFS peer; `auto`, bulk first and bitswap when no floe peer could send it.
 */
export type Transport = 'auto' | 'bulk' | 'bitswap'

export interface DagSourceComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections' | 'peerStore' | 'dial'>
  /** the local store: fetched blocks land here */
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  /**
   * reads that ask connected peers over bitswap for a block missing locally, verify it and
   * keep it in `blockstore` (store/bitswap.ts); absent: no bitswap (`auto` is `bulk`)
   */
  bitswap?: Pick<Blockstore, 'get'>
  /** peers that sent bad blocks; not asked again while this node runs */
  distrusted: Set<string>
  log: Logger
}

export interface RequireDagOptions {
  transport?: Transport
  signal?: AbortSignal
  /** bytes of blocks received so far */
  onProgress?: (bytes: number) => void
  /** past this many bytes of blocks received the fetch stops with ContentTooLargeError (what came is left to gc) */
  maxBytes?: number
}

/** What `requireDag` did: on return the whole DAG is in the local store. */
export interface DagFetched {
  /** `local`: every block was held already; else the transport that brought the rest */
  via: 'local' | 'bulk' | 'bitswap'
  /** the peer that sent it over the bulk protocol */
  peer?: string
  /** blocks and bytes received */
  blocks: number
  bytes: number
  /** time spent fetching */
  ms: number
}

/** What services that need content whole locally are given: `requireDag` bound to this node's peers and stores. */
export type RequireDag = (root: CID, options?: RequireDagOptions) => Promise<DagFetched>

/** Errors that say the peer misbehaved, rather than that it lacks the content. */
const DISTRUST = new Set(['CorruptBlockError', 'UnexpectedBlockError', 'InvalidBlockError', 'DagProtocolError'])

/** How long a read through bitswap waits for one block before giving up. */
export const BITSWAP_BLOCK_TIMEOUT_MS = 30_000
/** Blocks asked of bitswap at once: its round trips, not the link, bound a one-at-a-time walk. */
const BITSWAP_CONCURRENCY = 16

/**
 * The one place content is fetched from peers: makes the DAG under `root` whole in the local
 * store, or throws. Held already → nothing to do. Else each connected peer that speaks
 * `/floe/dag` is asked in turn (a peer that sends a bad block is distrusted; a cut transfer
 * resumes with the next), then, for `auto` and `bitswap`, every missing block is asked of
 * connected peers over bitswap.
 *
 * Throws ContentUnavailableError when no peer could send it, ContentTooLargeError past
 * `maxBytes` (a peer names the root, so it could name a DAG of any size: no other peer is
 * asked then), or the signal's reason.
 */
export async function requireDag (components: DagSourceComponents, root: CID, options: RequireDagOptions = {}): Promise<DagFetched> {
  const transport = options.transport ?? 'bulk'
  const budget = new AbortController()
  const signal = options.signal == null ? budget.signal : AbortSignal.any([options.signal, budget.signal])
  const counted = (bytes: number): void => {
    if (options.maxBytes != null && bytes > options.maxBytes && !budget.signal.aborted) {
      budget.abort(new ContentTooLargeError(`${root} is more than ${options.maxBytes} bytes, its budget here; stopped fetching it`))
    }
    options.onProgress?.(bytes)
  }
  // the first try reuses this walk; after a failed one the store may hold more, so it walks again
  const held: HeldBlocks = await findHeldBlocks(components.blockstore, root, { signal: options.signal })
  if (held.wanted.length === 0) return { via: 'local', blocks: 0, bytes: 0, ms: 0 }

  const failures: string[] = []
  const peers = connectedPeers(components.libp2p)
  if (transport !== 'bitswap') {
    const fetched = await fromFloePeers(components, root, peers, held, { signal, counted, budget: budget.signal, outer: options.signal, failures })
    if (fetched != null) return fetched
  }
  if (transport !== 'bulk' && components.bitswap != null) {
    try {
      return await fromBitswap({ bitswap: components.bitswap, blockstore: components.blockstore }, root, { signal, counted })
    } catch (err: any) {
      options.signal?.throwIfAborted()
      budget.signal.throwIfAborted()
      if (err?.name !== 'ContentUnavailableError') throw err
      failures.push(`bitswap: ${err.message as string}`)
    }
  }
  throw new ContentUnavailableError(peers.length === 0
    ? `${root} is not held here and no peer is connected to fetch it from; connect one with floe connect`
    : `no connected peer could send ${root}: ${failures.join('; ') || 'none speaks ' + DAG_PROTOCOL}`)
}

/** Peers with a direct (unlimited) connection first: one reached only through a relay may have to wait for a direct path. */
function connectedPeers (libp2p: DagSourceComponents['libp2p']): PeerId[] {
  const connections = [...libp2p.getConnections()].sort((a, b) => Number(a.limits != null) - Number(b.limits != null))
  return [...new Map(connections.map(c => [c.remotePeer.toString(), c.remotePeer])).values()]
}

async function speaksDag (libp2p: DagSourceComponents['libp2p'], peer: PeerId): Promise<boolean> {
  try {
    return (await libp2p.peerStore.get(peer)).protocols.includes(DAG_PROTOCOL)
  } catch {
    // Not identified yet: worth a try, the protocol negotiation will tell.
    return true
  }
}

/** Each floe peer in turn over the bulk protocol: what came, or undefined when none could send it. */
async function fromFloePeers (components: DagSourceComponents, root: CID, peers: PeerId[], held: HeldBlocks, run: { signal: AbortSignal, counted: (bytes: number) => void, budget: AbortSignal, outer?: AbortSignal, failures: string[] }): Promise<DagFetched | undefined> {
  let known: HeldBlocks | undefined = held
  for (const peer of peers) {
    const id = peer.toString()
    if (components.distrusted.has(id) || !(await speaksDag(components.libp2p, peer))) continue
    try {
      await awaitUnlimited(components.libp2p, peer, { signal: run.signal })
      const started = Date.now()
      const result = await fetchDag(components, peer, root, { signal: run.signal, held: known, onProgress: p => { run.counted(p.bytes) } })
      components.log.info({ root: root.toString(), peer: id, blocks: result.blocks, bytes: result.bytes, skipped: result.skippedBlocks, ms: Date.now() - started }, 'fetched DAG over the bulk protocol')
      return { via: 'bulk', peer: id, blocks: result.blocks, bytes: result.bytes, ms: Date.now() - started }
    } catch (err: any) {
      known = undefined
      run.outer?.throwIfAborted()
      run.budget.throwIfAborted()
      if (DISTRUST.has(err?.name)) {
        components.distrusted.add(id)
        components.log.warn({ root: root.toString(), peer: id, err: err.message }, 'peer sent bad data: distrusted')
      } else {
        components.log.debug({ root: root.toString(), peer: id, err: err?.message }, 'peer could not send the DAG')
      }
      run.failures.push(`${id}: ${err?.message ?? err}`)
    }
  }
  return undefined
}

/**
 * Every block of the DAG read through the bitswap store (which keeps what it receives), up to
 * BITSWAP_CONCURRENCY at once; a block no peer sends within BITSWAP_BLOCK_TIMEOUT_MS ends it.
 */
async function fromBitswap (components: Required<Pick<DagSourceComponents, 'bitswap' | 'blockstore'>>, root: CID, run: { signal: AbortSignal, counted: (bytes: number) => void }): Promise<DagFetched> {
  const store = withBlockTimeout(components.bitswap)
  const failed = new AbortController()
  const signal = AbortSignal.any([run.signal, failed.signal])
  const started = Date.now()
  const seen = new Set<string>([root.toString()])
  const queue: CID[] = [root]
  let blocks = 0
  let bytes = 0
  const worker = async (): Promise<void> => {
    for (let cid = queue.shift(); cid != null; cid = queue.shift()) {
      signal.throwIfAborted()
      const held = await components.blockstore.has(cid, { signal })
      const block = await readBlock(store, cid, { signal })
      if (!held) {
        blocks++
        bytes += block.byteLength
        run.counted(bytes)
      }
      for (const link of mayHaveLinks(cid) ? blockLinks(cid, block) : []) {
        if (seen.has(link.toString())) continue
        seen.add(link.toString())
        queue.push(link)
      }
    }
  }
  // a worker that finds the queue empty ends; more start as the walk opens up the next blocks
  const running = new Set<Promise<void>>()
  try {
    while (queue.length > 0 || running.size > 0) {
      while (queue.length > 0 && running.size < BITSWAP_CONCURRENCY) {
        const one: Promise<void> = worker().finally(() => { running.delete(one) })
        running.add(one)
      }
      await Promise.race(running)
    }
  } catch (err) {
    failed.abort(err)
    await Promise.allSettled(running)
    throw err
  }
  return { via: 'bitswap', blocks, bytes, ms: Date.now() - started }
}

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
          if (timeout.aborted) throw new ContentUnavailableError(`no connected peer sent block ${cid} within ${ms / 1000} s; is a peer that holds it connected?`)
          throw err
        }
      })()
    }
  }
}
