import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import {
  DAG_IDLE_TIMEOUT_MS, DAG_MAX_INBOUND_STREAMS, DAG_MAX_OUTBOUND_STREAMS, DAG_PROTOCOL, DAG_REQUEST_TIMEOUT_MS,
  decodeDagAck, decodeDagRequest, InvalidDagRequestError, DAG_MAX_REQUEST_BYTES, REMOTE_ERRORS, TransferIncompleteError,
  TransferTimeoutError
} from '../../protocol/transfer/dag.js'
import type { Logger } from '../log.js'
import { blockLinks, mayHaveLinks } from '../store/block-links.js'
import type { Entitlement } from './entitlement.js'
import { idleTimer } from './idle-timer.js'
import { readBlock } from '../store/read-block.js'
import { sendWindow, type SendWindow } from './send-window.js'
import { transferLimits, type TransferLimits, type TransferSlot } from './transfer-limits.js'
import { writeFrame } from './write-frame.js'

export interface DagSenderComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** asked per request root: a peer gets only the DAGs it is entitled to */
  access: Entitlement
  /** per-peer and total caps on transfers (default: the protocol's) */
  limits?: TransferLimits
  log?: Logger
}

/** A request as the sender keeps it: the held blocks as a set of CID strings, the list itself let go. */
interface ServedRequest {
  root: CID
  have: Set<string>
  structure: boolean
}

export interface DagTransferService {
  start(): Promise<void>
  stop(): Promise<void>
}

export interface DagSendResult {
  root: CID
  /** blocks and bytes sent */
  blocks: number
  bytes: number
  /** blocks of the DAG the receiver said it holds */
  skippedBlocks: number
}

/**
 * Serves `/floe/dag/1.0.0`: answers each request with the blocks of the DAG the receiver
 * lacks. Stopping unregisters the handler and cuts the transfers in progress.
 */
export function dagTransferService ({ libp2p, blockstore, access, limits = transferLimits(), log }: DagSenderComponents): DagTransferService {
  let life: AbortController | undefined

  const handler = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer.toString()
    if (life == null) {
      stream.abort(new Error('the DAG transfer service is stopped'))
      return
    }
    const signal = life.signal
    let slot: TransferSlot
    try {
      slot = limits.admit(peer)
    } catch (err: any) {
      log?.debug({ peer, err: err.message }, 'DAG transfer refused: over the per-peer or total cap')
      void refuseOrAbort(stream, err, AbortSignal.any([signal, AbortSignal.timeout(DAG_REQUEST_TIMEOUT_MS)]))
      return
    }
    serveDagRequest(stream, { blockstore, access }, { peer, signal, slot })
      .then(result => { log?.debug({ peer, root: result.root.toString(), blocks: result.blocks, bytes: result.bytes, skippedBlocks: result.skippedBlocks }, 'sent DAG') })
      .catch((err: Error) => {
        if (err.name === 'NotEntitledError') log?.info({ peer, err: err.message }, 'DAG transfer refused: not entitled')
        else log?.debug({ peer, err: err.message, errName: err.name }, 'DAG transfer ended early')
      })
      .finally(() => { slot.release() })
  }

  return {
    async start () {
      if (life != null) return
      life = new AbortController()
      try {
        await libp2p.handle(DAG_PROTOCOL, handler, { maxInboundStreams: DAG_MAX_INBOUND_STREAMS, maxOutboundStreams: DAG_MAX_OUTBOUND_STREAMS })
      } catch (err) {
        life = undefined
        throw err
      }
    },
    async stop () {
      if (life == null) return
      const stopping = life
      life = undefined
      await libp2p.unhandle(DAG_PROTOCOL)
      stopping.abort(new Error('the DAG transfer service stopped'))
    }
  }
}

/**
 * One transfer, sender side: reads the request, checks the peer is entitled to its root,
 * walks the DAG depth-first in link order and sends each block the receiver lacks, then
 * `done`. Refusals the receiver should hear about (bad request, not entitled, missing or
 * unreadable block) go out as an `error` frame; anything else resets the stream. `slot`
 * bounds the request's size (the peer's request bytes left) and counts what it keeps.
 */
export async function serveDagRequest (stream: Stream, { blockstore, access }: Pick<DagSenderComponents, 'blockstore' | 'access'>, options: { peer: string, signal: AbortSignal, slot?: Pick<TransferSlot, 'maxRequestBytes' | 'settle'> }): Promise<DagSendResult> {
  const idle = idleTimer(DAG_IDLE_TIMEOUT_MS, () => new TransferTimeoutError(`${options.peer} made no progress for ${DAG_IDLE_TIMEOUT_MS / 1000} s`))
  const signal = AbortSignal.any([options.signal, idle.signal])
  const window = sendWindow()
  const maxRequestBytes = options.slot?.maxRequestBytes ?? DAG_MAX_REQUEST_BYTES
  try {
    // the length prefix is checked before a byte of the body is buffered
    const lp = lpStream(stream, { maxDataLength: maxRequestBytes, maxBufferSize: maxRequestBytes + 16 })
    const request = await readRequest(lp, options.peer, maxRequestBytes, options.slot, signal)
    await access.check(request.root, options.peer)
    // Acknowledgements come while blocks go out; the loop ends when the receiver closes.
    const acks = readAcks(lp, window, options.peer, signal, idle.touch)
    const result = await sendDag(stream, blockstore, request, window, signal, idle.touch)
    await stream.close({ signal })
    await acks
    return result
  } catch (err: any) {
    await refuseOrAbort(stream, err, signal)
    throw err
  } finally {
    idle.clear()
  }
}

/**
 * How long a refused receiver has to read the `error` frame and close its end. Until then
 * what it still sends is read and dropped (a stream nobody reads keeps what arrives, up to
 * the muxer's window, ~16 MiB with yamux); after it, the stream is reset.
 */
const REFUSAL_GRACE_MS = 2_000

/** Tells the receiver why when it is something it should hear; resets the stream otherwise. */
async function refuseOrAbort (stream: Stream, err: any, signal: AbortSignal): Promise<void> {
  if (REMOTE_ERRORS.has(err?.name) && stream.writeStatus === 'writable') {
    try {
      await writeFrame(stream, { type: 'error', name: err.name, message: err.message }, signal)
      await stream.close({ signal })
      dropUntilClosed(stream)
    } catch (writeErr: any) {
      stream.abort(writeErr instanceof Error ? writeErr : new Error(String(writeErr)))
    }
    return
  }
  stream.abort(err instanceof Error ? err : new Error(String(err)))
}

/** Reads and drops what a refused peer still sends until it closes, resetting the stream after REFUSAL_GRACE_MS. */
function dropUntilClosed (stream: Stream): void {
  if (stream.readStatus !== 'readable') return
  const timer = setTimeout(() => { stream.abort(new Error('refused: the peer did not close in time')) }, REFUSAL_GRACE_MS)
  void (async () => {
    for await (const _chunk of stream) {
      // dropped: the transfer was refused
    }
  })().catch((readErr: Error) => {
    // already read through its length-prefixed reader, or reset: nothing more to drop
    stream.abort(readErr)
  }).finally(() => { clearTimeout(timer) })
}

async function readRequest (lp: LengthPrefixedStream<Stream>, peer: string, maxBytes: number, slot: Pick<TransferSlot, 'settle'> | undefined, signal: AbortSignal): Promise<ServedRequest> {
  const timeout = AbortSignal.timeout(DAG_REQUEST_TIMEOUT_MS)
  let bytes: Uint8Array
  try {
    bytes = (await lp.read({ signal: AbortSignal.any([signal, timeout]) })).subarray()
  } catch (err: any) {
    if (timeout.aborted) throw new TransferTimeoutError(`${peer} sent no request within ${DAG_REQUEST_TIMEOUT_MS / 1000} s`)
    if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') {
      throw new InvalidDagRequestError(maxBytes < DAG_MAX_REQUEST_BYTES
        ? `the request is over ${maxBytes} bytes, what is left of this peer's request bytes here (its other transfers hold the rest)`
        : `the request is over ${DAG_MAX_REQUEST_BYTES} bytes`)
    }
    throw err
  }
  slot?.settle(bytes.byteLength)
  const request = decodeDagRequest(bytes)
  // the decoded CIDs go with this frame; the set of their strings is what the walk needs
  return { root: request.root, have: new Set(request.have.map(cid => cid.toString())), structure: request.structure === true }
}

/**
 * Reads the receiver's acknowledgements into the send window until the receiver closes its
 * writable end. Resolves then; a malformed acknowledgement fails the window (and so the send).
 */
async function readAcks (lp: LengthPrefixedStream<Stream>, window: SendWindow, peer: string, signal: AbortSignal, touch: () => void): Promise<void> {
  try {
    while (true) {
      let body
      try {
        // lp's own cap (the request's) bounds memory; decodeDagAck refuses anything but one varint
        body = await lp.read({ signal })
      } catch (err: any) {
        if (err?.name === 'UnexpectedEOFError') {
          window.fail(new TransferIncompleteError(`${peer} closed the transfer`))
          return
        }
        throw err
      }
      window.acknowledge(decodeDagAck(body.subarray()))
      touch()
    }
  } catch (err: any) {
    window.fail(err instanceof Error ? err : new Error(String(err)))
  }
}

/** Blocks read before their turn, so the disk works while the previous block is sent. */
const READ_AHEAD_BLOCKS = 4

/**
 * Reads blocks for the sender a few ahead of the walk: the next ones are the top of the walk's
 * stack. A block read ahead and then found already visited is simply dropped.
 */
function blockReadAhead (blockstore: Pick<Blockstore, 'get' | 'has'>, signal: AbortSignal): { take(cid: CID, stack: CID[]): Promise<Uint8Array> } {
  const reads = new Map<string, Promise<Uint8Array>>()
  const start = (cid: CID): Promise<Uint8Array> => {
    const read = readBlock(blockstore, cid, { signal })
    // a read ahead that is never taken must not become an unhandled rejection
    read.catch(() => {})
    return read
  }
  return {
    async take (cid, stack) {
      const key = cid.toString()
      const read = reads.get(key) ?? start(cid)
      reads.delete(key)
      for (let i = stack.length - 1; i >= 0 && i >= stack.length - READ_AHEAD_BLOCKS; i--) {
        const next = stack[i] as CID
        const nextKey = next.toString()
        if (!reads.has(nextKey)) reads.set(nextKey, start(next))
      }
      return await read
    }
  }
}

async function sendDag (stream: Stream, blockstore: Pick<Blockstore, 'get' | 'has'>, request: ServedRequest, window: SendWindow, signal: AbortSignal, touch: () => void): Promise<DagSendResult> {
  const have = request.have
  const visited = new Set<string>()
  const stack: CID[] = [request.root]
  let blocks = 0
  let bytes = 0
  let skippedBlocks = 0
  const readAhead = blockReadAhead(blockstore, signal)
  for (let cid = stack.pop(); cid != null; cid = stack.pop()) {
    signal.throwIfAborted()
    const key = cid.toString()
    if (visited.has(key)) continue
    visited.add(key)
    const held = have.has(key)
    if (!mayHaveLinks(cid) && (held || request.structure === true)) {
      if (held) skippedBlocks++
      continue
    }
    // blocks the receiver holds are still read: their links lead to blocks it may lack
    const block = await readAhead.take(cid, stack)
    const links = blockLinks(cid, block)
    if (held) {
      skippedBlocks++
    } else {
      await window.reserve(block.byteLength, signal)
      await writeFrame(stream, { type: 'block', cid, bytes: block }, signal)
      blocks++
      bytes += block.byteLength
    }
    touch()
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
  await writeFrame(stream, { type: 'done', blocks, bytes }, signal)
  return { root: request.root, blocks, bytes, skippedBlocks }
}
