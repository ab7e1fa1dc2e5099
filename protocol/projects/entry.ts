import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import { MetricPoint } from '../jobs/metrics.js'
import { SignedReceipt } from '../jobs/receipt.js'
import { Bytes, CidLink, JobSpecView } from '../jobs/spec.js'
import { ENTRY_SIGNING_DOMAIN, JobId } from '../ids.js'

/**
 * A project's history: a signed, hash-linked log. Each entry is one dag-cbor block
 *
 *   { v, project, prev, clock, author, at, type, payload, sig }
 *
 * - `project`: a link to the project's genesis entry (whose CID is the project's id); null
 *   in the genesis entry itself;
 * - `prev`: links to the heads the author held when it wrote the entry (none in the genesis),
 *   sorted by CID, so concurrent histories merge in the next entry that links them both;
 * - `clock`: one more than the highest clock among `prev` (0 for the genesis);
 * - `author`: the writer's peer id, whose key made `sig` over ENTRY_SIGNING_DOMAIN followed by
 *   the dag-cbor encoding of every other field (protocol/signing.ts).
 *
 * dag-cbor is canonical, so the block's bytes are the only encoding of an entry: a block that
 * re-encodes to other bytes is refused. Content an entry names (specs, outputs, receipts'
 * CIDs) is named by string, not linked, so the log's DAG is the log alone.
 */
export { ENTRY_SIGNING_DOMAIN }
export const MAX_ENTRY_BYTES = 64 * 1024
/** Heads one entry may link; past it, the next entries merge the rest. */
export const MAX_PREV = 32
/** Each member numbers its own jobs, in its own range: slot × JOB_NUMBER_RANGE + 1, + 2, … */
export const JOB_NUMBER_RANGE = 100_000
export const MAX_NAME_CHARS = 64

/** `mnist`, `cifar-10`: a project's or owner's name (no `/`, so `owner/name/7` reads one way). */
export const ProjectName = z.string().min(1).max(MAX_NAME_CHARS).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit')

const jobNumber = z.number().int().positive()
const peer = z.string().min(1).max(128)
const cidText = z.string().min(1).max(128).refine(text => { try { CID.parse(text); return true } catch { return false } }, { message: 'not a CID' })
const reason = z.string().max(1024).nullable()

export const EntryPayloads = {
  'project.created': z.object({ owner: ProjectName, name: ProjectName }).strict(),
  'member.added': z.object({ peer, slot: z.number().int().positive().max(20_000) }).strict(),
  'member.removed': z.object({ peer }).strict(),
  'job.created': z.object({
    job: JobId,
    number: jobNumber,
    message: z.string().max(4096),
    specCid: cidText,
    spec: JobSpecView,
    inputs: z.array(z.object({ ref: z.string().max(512), cid: cidText, mount: z.string().max(256) }).strict()).max(64),
    deterministic: z.boolean(),
    /** an earlier success of the same spec whose output this job returns without running */
    reused: z.object({ from: z.string().max(256), outputCid: cidText.nullable(), logsCid: cidText.nullable(), receipt: SignedReceipt }).strict().nullable()
  }).strict(),
  'job.started': z.object({ job: JobId, provider: peer, pricePerHour: z.number().nonnegative() }).strict(),
  'job.finished': z.object({ job: JobId, receipt: SignedReceipt, metrics: z.record(z.string().max(128), MetricPoint), logLines: z.number().int().nonnegative() }).strict(),
  'job.stopped': z.object({ job: JobId, reason }).strict(),
  'job.lost': z.object({ job: JobId, provider: peer, reason, final: z.boolean() }).strict(),
  'job.failed': z.object({ job: JobId, reason }).strict(),
  /** a tombstone (`floe delete JOB`): listings hide the job, its output is no longer kept; the entries before stay */
  'job.deleted': z.object({ job: JobId }).strict(),
  /**
   * A billing dispute (protocol/billing/metering.ts): a usage statement this client refused,
   * or a receipt whose cost is more than one interval past the last voucher. Its signed
   * documents (the statement or receipt, and the last voucher) are the evidence.
   */
  'job.disputed': z.object({
    job: JobId,
    provider: peer,
    kind: z.enum(['statement', 'receipt']),
    refusal: z.string().min(1).max(64),
    reason: z.string().max(1024),
    documents: z.array(z.object({ kind: z.enum(['statement', 'voucher', 'receipt']), payload: Bytes, signature: Bytes }).strict()).max(4)
  }).strict(),
  'dataset.attached': z.object({ name: z.string().min(1).max(256), version: z.number().int().nonnegative(), cid: cidText }).strict(),
  note: z.object({ text: z.string().min(1).max(4096) }).strict()
} as const

export type EntryType = keyof typeof EntryPayloads
export const ENTRY_TYPES = Object.keys(EntryPayloads) as EntryType[]
export type EntryPayload<T extends EntryType> = z.infer<(typeof EntryPayloads)[T]>
/** Entry types only the owner may write. */
export const OWNER_ONLY: ReadonlySet<EntryType> = new Set(['project.created', 'member.added', 'member.removed'])
/** Entry types that change who may write. */
export const MEMBERSHIP_TYPES: ReadonlySet<EntryType> = new Set(['project.created', 'member.added', 'member.removed'])

const EntryShape = z.object({
  v: z.literal(1),
  project: CidLink.nullable(),
  prev: z.array(CidLink).max(MAX_PREV),
  clock: z.number().int().nonnegative(),
  author: peer,
  at: z.number().int().nonnegative(),
  type: z.enum(ENTRY_TYPES as [EntryType, ...EntryType[]]),
  payload: z.record(z.string(), z.unknown()),
  sig: Bytes.refine(s => s.byteLength <= 512, { message: 'signature too long' })
}).strict()

export type EntryBody = Omit<z.infer<typeof EntryShape>, 'sig'>
export interface Entry extends EntryBody { sig: Uint8Array }

/** A malformed entry: not dag-cbor, not canonical, a bad shape or payload, a bad genesis. */
export class InvalidEntryError extends Error {
  override name = 'InvalidEntryError'
}

/** The bytes an entry's author signs (with ENTRY_SIGNING_DOMAIN in front). */
export function entrySigningPayload (body: EntryBody): Uint8Array {
  return dagCbor.encode(body)
}

export function encodeEntry (entry: Entry): Uint8Array {
  const bytes = dagCbor.encode(entry)
  if (bytes.byteLength > MAX_ENTRY_BYTES) throw new InvalidEntryError(`entry of ${bytes.byteLength} bytes; at most ${MAX_ENTRY_BYTES} are allowed`)
  return bytes
}

export async function entryCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(bytes))
}

/**
 * Decodes and checks an entry's form (not its signature, links or author, which need the
 * log): canonical bytes, the shape, the payload of its type, prev sorted and unique, the
 * genesis rules.
 */
export function decodeEntry (bytes: Uint8Array): Entry {
  if (bytes.byteLength > MAX_ENTRY_BYTES) throw new InvalidEntryError(`entry of ${bytes.byteLength} bytes; at most ${MAX_ENTRY_BYTES} are allowed`)
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new InvalidEntryError(`not dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = EntryShape.safeParse(value)
  if (!parsed.success) throw new InvalidEntryError(`not a project log entry: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  const entry = parsed.data as Entry
  const payload = EntryPayloads[entry.type].safeParse(entry.payload)
  if (!payload.success) throw new InvalidEntryError(`bad ${entry.type} entry: ${payload.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  if (!equalBytes(dagCbor.encode(entry), bytes)) throw new InvalidEntryError('entry is not in canonical dag-cbor')
  const prev = entry.prev.map(cid => cid.toString())
  for (let i = 1; i < prev.length; i++) {
    if ((prev[i - 1] as string) >= (prev[i] as string)) throw new InvalidEntryError('prev links must be sorted and unique')
  }
  const genesis = entry.type === 'project.created'
  if (genesis !== (entry.project == null) || genesis !== (entry.prev.length === 0)) {
    throw new InvalidEntryError('only the genesis entry (project.created) has no project and no prev, and it has neither')
  }
  if (genesis && entry.clock !== 0) throw new InvalidEntryError('the genesis entry has clock 0')
  return entry
}

/** Sorts and dedupes links as `prev` wants them. */
export function sortLinks (cids: Iterable<CID>): CID[] {
  return [...new Map([...cids].map(cid => [cid.toString(), cid])).entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, cid]) => cid)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
