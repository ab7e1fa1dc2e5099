import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import {
  CorruptBlockError, DAG_ACK_EVERY_BYTES, DAG_IDLE_TIMEOUT_MS, DAG_WINDOW_BYTES, encodeDagAck, DAG_MAX_OUTBOUND_STREAMS, DAG_OPEN_TIMEOUT_MS, DAG_PROTOCOL,
  DagProtocolError, DagRemoteError, decodeDagFrame, encodeDagRequest, DAG_MAX_FRAME_BYTES as MAX_FRAME_BYTES, REMOTE_ERRORS,
  TransferIncompleteError, TransferTimeoutError, UnexpectedBlockError
} from '../../protocol/transfer/dag.js'
import { blockLinks, mayHaveLinks } from '../store/block-links.js'
import { findHeldBlocks, type HeldBlocks } from './held-blocks.js'
import { idleTimer } from './idle-timer.js'
import { verifyBlock } from '../store/verify-block.js'
import { writeMessage } from './write-frame.js'

/**
 * What may sit unread: one window of block bytes (the sender keeps no more unacknowledged),
 * plus frame headers and a frame in progress.
 */
const RECEIVE_BUFFER_BYTES = DAG_WINDOW_BYTES + 2 * MAX_FRAME_BYTES

export interface DagFetchComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
}

export interface DagFetchProgress {
  /** blocks received and stored by this fetch */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  /** blocks of the DAG already held, not fetched again */
  skippedBlocks: number
}

export type DagFetchResult = DagFetchProgress

export interface DagFetchOptions {
  signal?: AbortSignal
  onProgress?(progress: DagFetchProgress): void
  /** what the store holds of the DAG, when the caller has just walked it (saves a second walk) */
  held?: HeldBlocks
}

/**
 * Fetches the DAG under `root` from `peer` over `/floe/dag/1.0.0` into the blockstore. Every
 * block is checked against its CID, and against the links seen so far, before it is stored.
 * Blocks already held are not fetched again, so calling this again after a cut transfer
 * resumes it.
 *
 * Throws CorruptBlockError or UnexpectedBlockError (the peer sent bad data: distrust it),
 * TransferIncompleteError (the stream was cut), TransferTimeoutError, the sender's refusal
 * (MissingBlockError, UnsupportedCodecError, …), or the signal's reason when aborted.
 */
export async function fetchDag (components: DagFetchComponents, peer: PeerId, root: CID, options: DagFetchOptions = {}): Promise<DagFetchResult> {
  options.signal?.throwIfAborted()
  const held = options.held ?? await findHeldBlocks(components.blockstore, root, { signal: options.signal })
  if (!held.wanted.some(mayHaveLinks)) return await fetchOnce(components, peer, root, held, false, options)
  // Part of the DAG's structure is missing, so which leaves are held cannot be told yet: fetch
  // the structure first, then only the leaves still missing.
  const structure = await fetchOnce(components, peer, root, held, true, options)
  const after = await findHeldBlocks(components.blockstore, root, { signal: options.signal })
  const leaves = await fetchOnce(components, peer, root, after, false, {
    ...options,
    // the structure fetched a moment ago is held now, but was not held before this fetch
    onProgress: p => options.onProgress?.({ blocks: structure.blocks + p.blocks, bytes: structure.bytes + p.bytes, skippedBlocks: p.skippedBlocks - structure.blocks })
  })
  return { blocks: structure.blocks + leaves.blocks, bytes: structure.bytes + leaves.bytes, skippedBlocks: leaves.skippedBlocks - structure.blocks }
}

async function fetchOnce (components: DagFetchComponents, peer: PeerId, root: CID, held: HeldBlocks, structure: boolean, options: DagFetchOptions): Promise<DagFetchResult> {
  const openTimeout = AbortSignal.timeout(DAG_OPEN_TIMEOUT_MS)
  let stream: Stream
  try {
    stream = await components.libp2p.dialProtocol(peer, DAG_PROTOCOL, {
      signal: options.signal == null ? openTimeout : AbortSignal.any([options.signal, openTimeout]),
      maxOutboundStreams: DAG_MAX_OUTBOUND_STREAMS
    })
  } catch (err) {
    options.signal?.throwIfAborted()
    if (openTimeout.aborted) throw new TransferTimeoutError(`could not open ${DAG_PROTOCOL} to ${peer} within ${DAG_OPEN_TIMEOUT_MS / 1000} s`)
    throw err
  }
  return await receiveDag(stream, { blockstore: components.blockstore, peer: peer.toString(), root, held, structure }, options)
}

export interface ReceiveDagInit {
  blockstore: Pick<Blockstore, 'put'>
  /** the sender, for error messages */
  peer: string
  root: CID
  held: HeldBlocks
  /** ask for the blocks that can link only (no raw leaves) */
  structure?: boolean
}

/** One transfer, receiver side, on an open stream: sends the request, then verifies and stores each frame's block. */
export async function receiveDag (stream: Stream, { blockstore, peer, root, held, structure = false }: ReceiveDagInit, options: DagFetchOptions = {}): Promise<DagFetchResult> {
  const idle = idleTimer(DAG_IDLE_TIMEOUT_MS, () => new TransferTimeoutError(`${peer} sent nothing of ${root} for ${DAG_IDLE_TIMEOUT_MS / 1000} s`))
  const signal = options.signal == null ? idle.signal : AbortSignal.any([options.signal, idle.signal])
  // CIDs handled (held or received) and CIDs linked from them that must still come
  const known = new Set(held.have.map(cid => cid.toString()))
  const expected = new Set(held.wanted.map(cid => cid.toString()))
  const progress: DagFetchProgress = { blocks: 0, bytes: 0, skippedBlocks: held.have.length }
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, RECEIVE_BUFFER_BYTES)
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: RECEIVE_BUFFER_BYTES })
  // Blocks are stored a few at a time while the next frames are read and verified; the
  // sender hears how many bytes are stored, which is what frees its window.
  let acked = 0
  const writes = storeQueue(blockstore, STORE_CONCURRENCY, signal, stored => {
    if (stored - acked < DAG_ACK_EVERY_BYTES) return
    acked = stored
    void writeMessage(stream, [encodeDagAck(acked)], signal).catch(err => { writes.fail(err) })
  })
  try {
    await writeMessage(stream, [encodeDagRequest({ root, have: held.have, structure })], signal)
    options.onProgress?.({ ...progress })
    while (true) {
      const frame = decodeDagFrame(await readFrame(lp, signal, { peer, root, progress }))
      idle.touch()
      if (frame.type === 'error') {
        const message = `${peer} cannot send ${root}: ${frame.message}`
        const RemoteError = REMOTE_ERRORS.get(frame.name)
        throw RemoteError == null ? new DagRemoteError(`${message} (${frame.name})`, frame.name) : new RemoteError(message)
      }
      if (frame.type === 'done') {
        if (frame.blocks !== progress.blocks || frame.bytes !== progress.bytes) {
          throw new DagProtocolError(`${peer} says it sent ${frame.blocks} blocks (${frame.bytes} bytes) of ${root}, but ${progress.blocks} (${progress.bytes} bytes) arrived`)
        }
        // a structure-only transfer leaves the raw leaves for the next request
        if (structure) for (const key of expected) if (CID.parse(key).code === raw.code) expected.delete(key)
        if (expected.size > 0) {
          throw new TransferIncompleteError(`${peer} finished sending ${root} but ${expected.size} linked blocks never came (e.g. ${expected.values().next().value}); it may not hold the whole DAG`)
        }
        await writes.drain()
        await stream.close({ signal })
        return { ...progress }
      }
      const key = frame.cid.toString()
      if (!expected.has(key)) {
        throw new UnexpectedBlockError(`${peer} sent block ${key}, which is not a wanted block of ${root}; do not trust this peer`, { peer, cid: key })
      }
      if (!(await verifyBlock(frame.cid, frame.bytes))) {
        throw new CorruptBlockError(`${peer} sent bytes for block ${key} of ${root} that do not match its hash; do not trust this peer`, { peer, cid: key })
      }
      const links = blockLinks(frame.cid, frame.bytes)
      await writes.add(frame.cid, frame.bytes)
      expected.delete(key)
      known.add(key)
      for (const link of links) {
        const linkKey = link.toString()
        if (!known.has(linkKey)) expected.add(linkKey)
      }
      progress.blocks++
      progress.bytes += frame.bytes.byteLength
      options.onProgress?.({ ...progress })
      idle.touch()
    }
  } catch (err: any) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    await writes.settle()
    options.signal?.throwIfAborted()
    if (idle.signal.aborted) throw idle.signal.reason
    throw err
  } finally {
    idle.clear()
  }
}

/** Block writes in flight at once on the receiving side. */
const STORE_CONCURRENCY = 8

interface StoreQueue {
  /** starts storing a verified block; waits while STORE_CONCURRENCY writes are in flight */
  add(cid: CID, bytes: Uint8Array): Promise<void>
  /** waits for every write; throws the first failure */
  drain(): Promise<void>
  /** waits for every write, ignoring failures (after an abort) */
  settle(): Promise<void>
  fail(err: Error): void
}

function storeQueue (blockstore: Pick<Blockstore, 'put'>, concurrency: number, signal: AbortSignal, onStored: (storedBytes: number) => void): StoreQueue {
  const inFlight = new Set<Promise<void>>()
  let stored = 0
  let failure: Error | undefined
  const check = (): void => { if (failure != null) throw failure }
  return {
    async add (cid, bytes) {
      check()
      const write: Promise<void> = Promise.resolve(blockstore.put(cid, bytes, { signal })).then(
        () => {
          inFlight.delete(write)
          stored += bytes.byteLength
          onStored(stored)
        },
        (err: Error) => {
          inFlight.delete(write)
          failure ??= err
        }
      )
      inFlight.add(write)
      while (inFlight.size >= concurrency) await Promise.race(inFlight)
      check()
    },
    async drain () {
      await Promise.all(inFlight)
      check()
    },
    async settle () {
      await Promise.all(inFlight)
    },
    fail (err) {
      failure ??= err
    }
  }
}

async function readFrame (lp: ReturnType<typeof lpStream>, signal: AbortSignal, context: { peer: string, root: CID, progress: DagFetchProgress }): Promise<Uint8Array> {
  try {
    const body = await lp.read({ signal })
    return body.subarray()
  } catch (err: any) {
    if (signal.aborted) throw err
    if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') {
      throw new DagProtocolError(`${context.peer} sent a frame over ${MAX_FRAME_BYTES} bytes`)
    }
    throw new TransferIncompleteError(`the transfer of ${context.root} from ${context.peer} was cut after ${context.progress.blocks} blocks (${err?.message ?? err}); fetch again to resume`, { cause: err })
  }
}
