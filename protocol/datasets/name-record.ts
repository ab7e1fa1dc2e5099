import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { DATASET_NAME_SIGNING_DOMAIN, DATASET_NAMES_PROTOCOL, PeerIdString } from '../ids.js'
import { signedBy } from '../signed-by.js'
import { KiB } from '../units.js'
import { DATASET_NAME_PATTERN } from './dataset.js'

/**
 * `/floe/dataset-names/1.0.0`: dataset names that travel between nodes.
 *
 * When a node makes a dataset version public it signs a **name record** with its libp2p key:
 * `OWNER/NAME:N → CID` (OWNER is the node's peer id). Any peer resolves `OWNER/NAME[:N]` by
 * asking the owner (or any peer that holds the owner's record: a member of a project that
 * used it) over this protocol: one length-prefixed JSON request `{ owner, name, version? }`,
 * one length-prefixed JSON answer `{ records }` (or `{ error }`), then the stream closes.
 *
 * The asker trusts no answerer: each record must be signed by OWNER's key (the key inside the
 * peer id), name the owner, name and version asked about, and carry a CID; one version of a
 * name maps to one CID for ever (a record that contradicts one already held is refused). So a
 * peer can withhold a name, never forge one. The answer is bounded by its length prefix
 * before a byte of it is decoded.
 *
 * A record is `{ payload, signature }`: the payload is the record's JSON bytes as the owner
 * signed them (base64url), so no re-encoding can change what was signed.
 */
export { DATASET_NAMES_PROTOCOL }

/** Versions one answer may carry: a listing shows a name's newest ones; older ones are asked by number. */
export const MAX_NAME_RECORDS_PER_REPLY = 64
/** One signed record: a few hundred bytes (peer id, name, CID, counts, a short message). */
export const MAX_NAME_RECORD_BYTES = 2 * KiB
/**
 * A request is ~150 bytes; an answer at most MAX_NAME_RECORDS_PER_REPLY records, each under
 * 4 KiB as sent (a 2 KiB payload in base64url, its signature and the JSON around them): 256 KiB.
 */
export const MAX_NAME_MESSAGE_BYTES = MAX_NAME_RECORDS_PER_REPLY * 4 * KiB
/** The whole exchange (open, ask, answer): a record is tiny; a peer slower than this is skipped. */
export const NAME_TIMEOUT_MS = 10_000
/** Concurrent name requests served per connection (libp2p's cap): an asker resolves a few names at a time. */
export const NAME_MAX_INBOUND_STREAMS = 8
export const NAME_MAX_OUTBOUND_STREAMS = 8
/** Peers asked for a name when its owner cannot be reached (connected project members). */
export const NAME_MAX_PEERS_ASKED = 8
/** A record's message is a short note (`floe data upload -m`); longer ones are cut before signing. */
export const MAX_NAME_RECORD_MESSAGE_CHARS = 200

export const DatasetNameString = z.string().regex(DATASET_NAME_PATTERN, { message: 'must be 1-64 letters, digits, ".", "_" or "-"' })

/** What the owner signs. */
export const NameRecord = z.object({
  owner: PeerIdString,
  name: DatasetNameString,
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  cid: z.string().min(1).max(256),
  bytes: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  cidVersion: z.union([z.literal(0), z.literal(1)]),
  chunker: z.enum(['fixed', 'rabin']),
  /** when the owner signed it (its clock) */
  publishedAt: z.string().max(64),
  message: z.string().max(MAX_NAME_RECORD_MESSAGE_CHARS)
}).strict()
export type NameRecord = z.infer<typeof NameRecord>

/** A record as it travels and is stored: the signed bytes and the signature, base64url. */
export const SignedNameRecord = z.object({
  payload: z.string().min(1).max(Math.ceil(MAX_NAME_RECORD_BYTES * 4 / 3)),
  signature: z.string().min(1).max(256)
}).strict()
export type SignedNameRecord = z.infer<typeof SignedNameRecord>

export const NameRequest = z.object({
  owner: PeerIdString,
  name: DatasetNameString,
  /** one version; absent: the newest ones held */
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional()
}).strict()
export type NameRequest = z.infer<typeof NameRequest>

export const NameResponse = z.object({
  /** newest first */
  records: z.array(SignedNameRecord).max(MAX_NAME_RECORDS_PER_REPLY),
  error: z.string().max(300).optional()
}).strict()
export type NameResponse = z.infer<typeof NameResponse>

// ---- errors shared by both sides ------------------------------------------------------------

/** An answer (or a record in it) is malformed, oversized, forged, or not what was asked. */
export class NameRecordError extends Error {
  override name = 'NameRecordError'
}

// ---- codecs -----------------------------------------------------------------------------------

export function encodeNameMessage (message: NameRequest | NameResponse): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

export function decodeNameMessage<T> (schema: z.ZodType<T>, bytes: Uint8Array, from: string): T {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new NameRecordError(`${from} sent a dataset-name message that is not JSON`)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) throw new NameRecordError(`${from} sent a malformed dataset-name message (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'})`)
  return parsed.data
}

/** The record's payload bytes, as signed. */
export function nameRecordBytes (record: NameRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(NameRecord.parse({ ...record, message: record.message.slice(0, MAX_NAME_RECORD_MESSAGE_CHARS) })))
}

export function signedNameRecord (payload: Uint8Array, signature: Uint8Array): SignedNameRecord {
  return { payload: Buffer.from(payload).toString('base64url'), signature: Buffer.from(signature).toString('base64url') }
}

/** The shareable name of a version: `OWNER/NAME:N`. */
export function shareName (record: Pick<NameRecord, 'owner' | 'name' | 'version'>): string {
  return `${record.owner}/${record.name}:${record.version}`
}

/**
 * A record from anyone, checked: its bytes decode to a record, the owner's key signed them,
 * and it is the owner, name (and version, when one was asked) `expected` names. Throws
 * NameRecordError saying which check failed and who sent it.
 */
export async function verifyNameRecord (signed: SignedNameRecord, expected: { owner: string, name: string, version?: number }, from: string): Promise<NameRecord> {
  const payload = Buffer.from(signed.payload, 'base64url')
  if (payload.byteLength > MAX_NAME_RECORD_BYTES) throw new NameRecordError(`${from} sent a name record of ${payload.byteLength} bytes (at most ${MAX_NAME_RECORD_BYTES})`)
  let record: NameRecord
  try {
    record = NameRecord.parse(JSON.parse(new TextDecoder().decode(payload)))
    CID.parse(record.cid)
  } catch {
    throw new NameRecordError(`${from} sent a malformed name record for ${expected.owner}/${expected.name}`)
  }
  if (record.owner !== expected.owner || record.name !== expected.name) {
    throw new NameRecordError(`${from} answered for ${expected.owner}/${expected.name} with a record of ${record.owner}/${record.name}`)
  }
  if (expected.version != null && record.version !== expected.version) {
    throw new NameRecordError(`${from} answered for ${expected.owner}/${expected.name}:${expected.version} with version ${record.version}`)
  }
  if (!await signedBy(record.owner, DATASET_NAME_SIGNING_DOMAIN, payload, Buffer.from(signed.signature, 'base64url'))) {
    throw new NameRecordError(`${from} sent a record of ${shareName(record)} that ${record.owner} did not sign (a forged or altered record); nothing was stored`)
  }
  return record
}
