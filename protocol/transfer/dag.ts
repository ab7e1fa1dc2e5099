import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { DAG_PROTOCOL } from '../ids.js'
import { KiB, MiB } from '../units.js'

/**
 * `/floe/dag/1.0.0`: bulk DAG transfer between floe peers.
 *
 * The receiver opens a stream to the sender and writes one length-prefixed request (the root
 * and the blocks of that DAG it already holds). The sender walks the DAG depth-first in link
 * order and answers with length-prefixed frames: one per block the receiver lacks, then
 * either a `done` frame (counts) or an `error` frame (name and message). A stream that ends
 * without either was cut.
 *
 * Flow control is the protocol's own, since a muxer grants window as bytes arrive, not as the
 * receiver stores them: the receiver acknowledges the block bytes it has verified and stored
 * (a length-prefixed unsigned varint, the running total) at least every DAG_ACK_EVERY_BYTES,
 * and the sender keeps at most DAG_WINDOW_BYTES of block bytes unacknowledged. So a receiver
 * holds at most one window in memory however slow its disk. After `done` or `error` the
 * receiver closes its writable end.
 *
 * A request may ask for the DAG's `structure` only: every block whose codec can link (dag-pb,
 * dag-cbor), none of the raw leaves. A receiver that lacks a DAG's root cannot tell which of
 * its leaves it already holds (a new version of a dataset shares most of them with the old);
 * with the structure in hand it can, and its second request lists them.
 *
 * The sender serves a root only to a peer entitled to it (daemon/transfer/entitlement.ts:
 * public content, a job's provider, a project's members, a job's client for its output) and
 * then only blocks reachable from that root; otherwise it answers `NotEntitledError`, the
 * same for roots it holds and roots it does not. It serves at most DAG_MAX_TRANSFERS_PER_PEER
 * transfers and DAG_MAX_REQUEST_BYTES_PER_PEER request bytes to one peer (across all its
 * connections) and DAG_MAX_TRANSFERS in all; past them it answers `DagBusyError`.
 *
 * Frame bodies start with a type byte:
 * - 0x00 block: the CID's binary form, then the block's bytes (the CID is self-delimiting)
 * - 0x01 done:  dag-cbor `{ blocks, bytes }`, what the sender sent
 * - 0x02 error: dag-cbor `{ name, message }`
 */
export { DAG_PROTOCOL }

/** Concurrent transfers per connection, each way (libp2p's cap; the per-peer caps below are the sender's own). */
export const DAG_MAX_INBOUND_STREAMS = 4
export const DAG_MAX_OUTBOUND_STREAMS = 4
/**
 * Transfers the sender serves one peer at once, across all its connections: a receiver
 * fetches a few DAGs at a time (a job's code, inputs and image). libp2p caps streams per
 * connection only, and a peer may open many connections.
 */
export const DAG_MAX_TRANSFERS_PER_PEER = 4
/** Transfers the sender serves at once, all peers together (peer ids cost nothing to make). */
export const DAG_MAX_TRANSFERS = 64
/** Dialling the sender and negotiating the protocol. */
export const DAG_OPEN_TIMEOUT_MS = 15_000
/** The sender waits this long for the request once the stream is open. */
export const DAG_REQUEST_TIMEOUT_MS = 10_000
/** Either side gives up when the other makes no progress (no frame, no drain) for this long. */
export const DAG_IDLE_TIMEOUT_MS = 60_000

/** Block bytes the sender may have sent and the receiver not yet acknowledged. */
export const DAG_WINDOW_BYTES = 16 * MiB
/** The receiver acknowledges at least this often (well under a window, so the sender never stalls). */
export const DAG_ACK_EVERY_BYTES = 4 * MiB
/** An acknowledgement is one varint: 9 bytes at most. */
export const DAG_MAX_ACK_BYTES = 9

/**
 * Held blocks one request may list. Sized to an honest receiver: resuming (or fetching a new
 * version of) a DAG of up to ~8 GiB at the 512 KiB average chunk skips every block it holds;
 * past it, the blocks left out are simply sent again. 200,000 (the old bound) cost ~500 MB
 * of heap to decode.
 */
export const DAG_MAX_HAVE_CIDS = 16_384
/** A listed CIDv1 with a sha2-256 digest, as dag-cbor encodes it (see encodedCidSize). */
const TYPICAL_HAVE_CID_BYTES = 44
/**
 * A request at most: the `have` list of sha2-256 CIDs plus room for the root and the map. The
 * frame is refused by its length prefix, before a byte of it is buffered or decoded, so this
 * bounds the decode cost too (~720 KiB; ~45 MB of transient heap at the most).
 */
export const DAG_MAX_REQUEST_BYTES = DAG_MAX_HAVE_CIDS * TYPICAL_HAVE_CID_BYTES + 4096
/**
 * Request bytes one peer's transfers may hold at once: two full-size requests. A request
 * costs ~60× its bytes of heap while it is decoded (CID objects), and its `have` set lives as
 * long as its transfer; a peer's other concurrent requests must be small.
 */
export const DAG_MAX_REQUEST_BYTES_PER_PEER = 2 * DAG_MAX_REQUEST_BYTES
export const DAG_MAX_BLOCK_BYTES = 4 * MiB
/** A block frame: type byte, CID, block. CIDs are small; 4 KiB leaves room for inline ones. */
export const DAG_MAX_FRAME_BYTES = DAG_MAX_BLOCK_BYTES + 4 * KiB
export const DAG_MAX_ERROR_MESSAGE_CHARS = 1024

const FRAME_BLOCK = 0x00
const FRAME_DONE = 0x01
const FRAME_ERROR = 0x02

export interface DagRequest {
  root: CID
  /** blocks of this DAG the receiver already holds: the sender does not send them */
  have: CID[]
  /** send only the blocks that can link (no raw leaves) */
  structure?: boolean
}

export type DagFrame =
  | { type: 'block', cid: CID, bytes: Uint8Array }
  | { type: 'done', blocks: number, bytes: number }
  | { type: 'error', name: string, message: string }

// ---- errors shared by both sides --------------------------------------------------------

/** The request is malformed or over the limits; the sender refuses it. */
export class InvalidDagRequestError extends Error {
  override name = 'InvalidDagRequestError'
}

/** A frame is malformed, over the limits, or the counts of `done` disagree with what came. */
export class DagProtocolError extends Error {
  override name = 'DagProtocolError'
}

/** A block of the DAG is not in the sender's store. */
export class MissingBlockError extends Error {
  override name = 'MissingBlockError'
}

/** A block uses a codec this protocol cannot read links from (only dag-pb, raw, dag-cbor). */
export class UnsupportedCodecError extends Error {
  override name = 'UnsupportedCodecError'
}

/** A CID uses a hash function the receiver cannot check (only sha2-256, sha2-512, identity). */
export class UnsupportedHashError extends Error {
  override name = 'UnsupportedHashError'
}

/** A block's bytes match its hash but do not decode with its codec. */
export class InvalidBlockError extends Error {
  override name = 'InvalidBlockError'
}

/**
 * The requesting peer is not entitled to the DAG under the root it asked for: blocks go only
 * to a project's members, a job's provider, a job's client, or anyone for public content.
 */
export class NotEntitledError extends Error {
  override name = 'NotEntitledError'
}

/** The sender is serving as many transfers (or request bytes) to this peer, or to all, as it allows; ask again later. */
export class DagBusyError extends Error {
  override name = 'DagBusyError'
}

/** A block is larger than DAG_MAX_BLOCK_BYTES. */
export class BlockTooLargeError extends Error {
  override name = 'BlockTooLargeError'
}

/** A block a peer sent that says the peer is not to be trusted; names the peer and the block. */
abstract class BadBlockFromPeerError extends Error {
  readonly peer: string
  readonly cid: string
  constructor (message: string, details: { peer: string, cid: string }) {
    super(message)
    this.peer = details.peer
    this.cid = details.cid
  }
}

/** A peer sent bytes that do not hash to the CID they came with. Distrust that peer. */
export class CorruptBlockError extends BadBlockFromPeerError {
  override name = 'CorruptBlockError'
}

/** A peer sent a block that is not (or no longer) wanted: not in the DAG, or sent twice. Distrust that peer. */
export class UnexpectedBlockError extends BadBlockFromPeerError {
  override name = 'UnexpectedBlockError'
}

/** The stream ended, or was reset, before the sender said `done`; fetching again resumes. */
export class TransferIncompleteError extends Error {
  override name = 'TransferIncompleteError'
}

/** The other side made no progress for DAG_IDLE_TIMEOUT_MS (or the request did not come in time). */
export class TransferTimeoutError extends Error {
  override name = 'TransferTimeoutError'
}

/** The sender refused with an error name this version does not know. */
export class DagRemoteError extends Error {
  override name = 'DagRemoteError'
  readonly remoteName: string
  constructor (message: string, remoteName: string) {
    super(message)
    this.remoteName = remoteName
  }
}

/** Errors a sender reports in an `error` frame; the receiver raises them again under the same name. */
export const REMOTE_ERRORS: ReadonlyMap<string, new (message: string) => Error> = new Map<string, new (message: string) => Error>([
  ['InvalidDagRequestError', InvalidDagRequestError],
  ['MissingBlockError', MissingBlockError],
  ['UnsupportedCodecError', UnsupportedCodecError],
  ['InvalidBlockError', InvalidBlockError],
  ['BlockTooLargeError', BlockTooLargeError],
  ['NotEntitledError', NotEntitledError],
  ['DagBusyError', DagBusyError]
])

// ---- encodings --------------------------------------------------------------------------

const CidValue = z.custom<CID>(value => CID.asCID(value) != null, { message: 'expected a CID' })

const DagRequestSchema = z.object({
  root: CidValue,
  have: z.array(CidValue).max(DAG_MAX_HAVE_CIDS),
  structure: z.boolean().optional()
}).strict()

const DoneSchema = z.object({
  blocks: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative()
}).strict()

const ErrorSchema = z.object({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/),
  message: z.string().max(DAG_MAX_ERROR_MESSAGE_CHARS)
}).strict()

/** dag-cbor size of one CID in the `have` list, at most: tag 42, byte-string header, 0x00 prefix. */
export function encodedCidSize (cid: CID): number {
  return cid.bytes.byteLength + 8
}

export function encodeDagRequest (request: DagRequest): Uint8Array {
  if (request.have.length > DAG_MAX_HAVE_CIDS) {
    throw new InvalidDagRequestError(`the request lists ${request.have.length} held blocks; at most ${DAG_MAX_HAVE_CIDS} are allowed`)
  }
  const bytes = dagCbor.encode(request.structure === true ? { root: request.root, have: request.have, structure: true } : { root: request.root, have: request.have })
  if (bytes.byteLength > DAG_MAX_REQUEST_BYTES) {
    throw new InvalidDagRequestError(`the request is ${bytes.byteLength} bytes; at most ${DAG_MAX_REQUEST_BYTES} are allowed`)
  }
  return bytes
}

export function decodeDagRequest (bytes: Uint8Array): DagRequest {
  if (bytes.byteLength > DAG_MAX_REQUEST_BYTES) {
    throw new InvalidDagRequestError(`the request is ${bytes.byteLength} bytes; at most ${DAG_MAX_REQUEST_BYTES} are allowed`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new InvalidDagRequestError(`the request is not valid dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = DagRequestSchema.safeParse(value)
  if (!parsed.success) {
    throw new InvalidDagRequestError(`invalid request: ${z.prettifyError(parsed.error)}`)
  }
  return { root: toCid(parsed.data.root), have: parsed.data.have.map(toCid), structure: parsed.data.structure === true }
}

/** A frame's body in parts, so a block's bytes are never copied into a bigger buffer. */
export function encodeDagFrame (frame: DagFrame): Uint8Array[] {
  switch (frame.type) {
    case 'block': {
      if (frame.bytes.byteLength > DAG_MAX_BLOCK_BYTES) {
        throw new BlockTooLargeError(`block ${frame.cid} is ${frame.bytes.byteLength} bytes; at most ${DAG_MAX_BLOCK_BYTES} are allowed`)
      }
      const header = new Uint8Array(1 + frame.cid.bytes.byteLength)
      header[0] = FRAME_BLOCK
      header.set(frame.cid.bytes, 1)
      return [header, frame.bytes]
    }
    case 'done':
      return [withType(FRAME_DONE, dagCbor.encode({ blocks: frame.blocks, bytes: frame.bytes }))]
    case 'error':
      return [withType(FRAME_ERROR, dagCbor.encode({ name: frame.name, message: frame.message.slice(0, DAG_MAX_ERROR_MESSAGE_CHARS) }))]
  }
}

export function decodeDagFrame (bytes: Uint8Array): DagFrame {
  if (bytes.byteLength === 0) throw new DagProtocolError('empty frame')
  if (bytes.byteLength > DAG_MAX_FRAME_BYTES) {
    throw new DagProtocolError(`frame of ${bytes.byteLength} bytes; at most ${DAG_MAX_FRAME_BYTES} are allowed`)
  }
  const body = bytes.subarray(1)
  switch (bytes[0]) {
    case FRAME_BLOCK: {
      let cid: CID
      let block: Uint8Array
      try {
        [cid, block] = CID.decodeFirst(body)
      } catch (err: any) {
        throw new DagProtocolError(`block frame with an invalid CID: ${err?.message ?? err}`)
      }
      if (block.byteLength > DAG_MAX_BLOCK_BYTES) {
        throw new DagProtocolError(`block ${cid} is ${block.byteLength} bytes; at most ${DAG_MAX_BLOCK_BYTES} are allowed`)
      }
      return { type: 'block', cid, bytes: block }
    }
    case FRAME_DONE: {
      const done = DoneSchema.safeParse(decodeCbor(body, 'done'))
      if (!done.success) throw new DagProtocolError(`invalid done frame: ${z.prettifyError(done.error)}`)
      return { type: 'done', ...done.data }
    }
    case FRAME_ERROR: {
      const error = ErrorSchema.safeParse(decodeCbor(body, 'error'))
      if (!error.success) throw new DagProtocolError(`invalid error frame: ${z.prettifyError(error.error)}`)
      return { type: 'error', ...error.data }
    }
    default:
      throw new DagProtocolError(`unknown frame type ${bytes[0]}`)
  }
}

/** An acknowledgement: the running total of block bytes the receiver has stored. */
export function encodeDagAck (storedBytes: number): Uint8Array {
  const bytes = new Uint8Array(varint.encodingLength(storedBytes))
  varint.encodeTo(storedBytes, bytes)
  return bytes
}

export function decodeDagAck (bytes: Uint8Array): number {
  if (bytes.byteLength === 0 || bytes.byteLength > DAG_MAX_ACK_BYTES) throw new DagProtocolError(`acknowledgement of ${bytes.byteLength} bytes; expected one varint`)
  let value: number
  let length: number
  try {
    [value, length] = varint.decode(bytes)
  } catch (err: any) {
    throw new DagProtocolError(`invalid acknowledgement: ${err?.message ?? err}`)
  }
  if (length !== bytes.byteLength || !Number.isSafeInteger(value)) throw new DagProtocolError('invalid acknowledgement: not one unsigned varint')
  return value
}

/** The unsigned-varint length prefix read by `lpStream` from @libp2p/utils. */
export function lengthPrefixed (parts: Uint8Array[]): Uint8Array[] {
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0)
  const prefix = new Uint8Array(varint.encodingLength(length))
  varint.encodeTo(length, prefix)
  return [prefix, ...parts]
}

function toCid (value: CID): CID {
  const cid = CID.asCID(value)
  if (cid == null) throw new InvalidDagRequestError('expected a CID')
  return cid
}

function withType (type: number, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(1 + body.byteLength)
  bytes[0] = type
  bytes.set(body, 1)
  return bytes
}

function decodeCbor (bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err: any) {
    throw new DagProtocolError(`${what} frame is not valid dag-cbor: ${err?.message ?? err}`)
  }
}
