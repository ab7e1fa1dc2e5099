import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { JobId, PeerIdString, USAGE_SIGNING_DOMAIN, VOUCHER_SIGNING_DOMAIN } from '../ids.js'
import { Bytes } from '../jobs/spec.js'
import { signedBy } from '../signed-by.js'
import { costFor, Micro } from './credits.js'

/**
 * Metering on `/floe/job/1.2.0` (protocol/jobs/wire.ts): while a job runs, its provider sends
 * a signed usage statement every interval (what ran so far and what it costs at the agreed
 * price); the client checks it against the deal and answers with a signed voucher, its
 * cumulative promise to pay for the job so far. Vouchers only grow: the one with the highest
 * `seq` supersedes the rest, and it is what both ledgers count. When the job ends the client
 * answers the receipt with a `final` voucher for the receipt's cost (within one interval of
 * the last, else a dispute). Both documents are dag-cbor `{ payload, signature }`, signed
 * over their domain (protocol/ids.ts) followed by the payload, as receipts are.
 */
export { USAGE_SIGNING_DOMAIN, VOUCHER_SIGNING_DOMAIN }

/** How often a provider states usage unless configured (`provider.meteringSeconds`). */
export const DEFAULT_METERING_SECONDS = 10
/** Bounds of a statement's interval: a second at least (a statement a second is ~1 KiB/s), ten minutes at most. */
export const MIN_METERING_MS = 1_000
export const MAX_METERING_MS = 600_000
/** How long a provider waits for vouchers before it pauses a job unless configured (`provider.voucherGraceSeconds`); it stops the job after twice that. */
export const DEFAULT_VOUCHER_GRACE_SECONDS = 30
/**
 * How far a statement's running time may lead the client's own clock since it heard the
 * acceptance: the provider starts counting when it sets the job running, which the client
 * hears a message later, and stream latency on a loaded machine is a second or so.
 */
export const METERING_CLOCK_SLACK_MS = 2_000
/** A statement's cost may differ from price × time by this many micro-credits (rounding, done the same way on both sides, and nothing else). */
export const METERING_COST_TOLERANCE_MICRO = 1
/** A signed statement or voucher is a few hundred bytes; this bounds one. */
export const MAX_METERING_DOC_BYTES = 2048
/** How long a provider waits, after sending the receipt, for the client's final voucher before it closes the stream. */
export const FINAL_VOUCHER_WAIT_MS = 3_000

const seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
const ms = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** What a statement and a voucher both name: the deal they are about. */
const deal = {
  version: z.literal(1),
  jobId: JobId,
  leaseId: z.string().min(1).max(64),
  provider: PeerIdString,
  client: PeerIdString
}

export const UsageStatement = z.object({
  ...deal,
  /** 1, 2, …: each statement of a job has a higher one than the last */
  seq,
  /** how often this provider states usage (ms): the tolerance of the final receipt */
  intervalMs: z.number().int().min(MIN_METERING_MS).max(MAX_METERING_MS),
  /** milliseconds the job has run in its container so far (preparing and uploading are not billed) */
  runningMs: ms,
  cpuSeconds: z.number().nonnegative().max(1e12),
  memoryGiBSeconds: z.number().nonnegative().max(1e15),
  gpuSeconds: z.number().nonnegative().max(1e12),
  /** the price the job was accepted at (credits per hour) */
  pricePerHour: z.number().nonnegative().max(1e9),
  /** micro-credits so far: price × runningMs (credits.ts, costFor) */
  cost: Micro,
  /** when it was made, ms since the epoch (the provider's clock) */
  at: ms
}).strict()
export type UsageStatement = z.infer<typeof UsageStatement>

export const Voucher = z.object({
  ...deal,
  /** 1, 2, …: the client's own count of vouchers for the job; the highest supersedes the rest */
  seq,
  /** micro-credits promised for the job in all (never less than an earlier voucher's) */
  amount: Micro,
  /** the statement it answers (0: none, e.g. a final voucher for a job that ended before its first) */
  statementSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** the client's answer to the receipt: nothing more will be promised for this job */
  final: z.boolean(),
  at: ms
}).strict()
export type Voucher = z.infer<typeof Voucher>

/** A signed statement or voucher as it travels and is kept. */
export const SignedDoc = z.object({
  payload: Bytes.refine(b => b.byteLength <= MAX_METERING_DOC_BYTES, { message: 'document too large' }),
  signature: Bytes.refine(s => s.byteLength <= 512, { message: 'signature too long' })
}).strict()
export type SignedDoc = z.infer<typeof SignedDoc>

/** A statement or voucher that does not decode, or is not signed by whom it must be. */
export class InvalidMeteringDocError extends Error {
  override name = 'InvalidMeteringDocError'
}

export function encodeStatement (statement: UsageStatement): Uint8Array {
  return dagCbor.encode(UsageStatement.parse(statement))
}

export function encodeVoucher (voucher: Voucher): Uint8Array {
  return dagCbor.encode(Voucher.parse(voucher))
}

function decode<T> (schema: z.ZodType<T>, payload: Uint8Array, what: string): T {
  if (payload.byteLength > MAX_METERING_DOC_BYTES) throw new InvalidMeteringDocError(`${what} of ${payload.byteLength} bytes; at most ${MAX_METERING_DOC_BYTES}`)
  let value: unknown
  try {
    value = dagCbor.decode(payload)
  } catch (err: any) {
    throw new InvalidMeteringDocError(`${what} is not dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new InvalidMeteringDocError(`${what} does not fit its schema: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

export const decodeStatement = (payload: Uint8Array): UsageStatement => decode(UsageStatement, payload, 'usage statement')
export const decodeVoucher = (payload: Uint8Array): Voucher => decode(Voucher, payload, 'voucher')

/** A statement decoded and proven to be signed by the provider it names. */
export async function openStatement (signed: SignedDoc): Promise<UsageStatement> {
  const statement = decodeStatement(signed.payload)
  if (!await signedBy(statement.provider, USAGE_SIGNING_DOMAIN, signed.payload, signed.signature)) throw new InvalidMeteringDocError(`the usage statement is not signed by provider ${statement.provider}`)
  return statement
}

/** A voucher decoded and proven to be signed by the client it names. */
export async function openVoucher (signed: SignedDoc): Promise<Voucher> {
  const voucher = decodeVoucher(signed.payload)
  if (!await signedBy(voucher.client, VOUCHER_SIGNING_DOMAIN, signed.payload, signed.signature)) throw new InvalidMeteringDocError(`the voucher is not signed by client ${voucher.client}`)
  return voucher
}

/** What one interval of running costs at a price: how far the final receipt may pass the last voucher. */
export function intervalSlack (pricePerHour: number, intervalMs: number): number {
  return costFor(pricePerHour, intervalMs + METERING_CLOCK_SLACK_MS)
}
