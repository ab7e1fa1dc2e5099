import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { Bytes, CidLink } from './spec.js'
import { RECEIPT_SIGNING_DOMAIN } from '../ids.js'

/**
 * The provider's signed statement of what it ran: dag-cbor `{ payload, signature }` where the
 * payload is the receipt and the signature is the provider's key's over RECEIPT_SIGNING_DOMAIN
 * followed by the payload (see protocol/signing.ts). Times are milliseconds since the epoch;
 * cost is floe credits.
 */
export { RECEIPT_SIGNING_DOMAIN }
export const MAX_RECEIPT_BYTES = 16 * 1024

/**
 * How far a receipt's cost may be from price × metered running time: the provider rounds the
 * cost to a millionth of a credit (half of that at most), and the product in floating point
 * adds far less; a millionth covers both and no more (daemon/jobs/receipt-check.ts).
 */
export const RECEIPT_COST_TOLERANCE = 1e-6
/**
 * How far past its time limit a job may be metered: a provider stops a container with
 * SIGTERM and SIGKILL up to 5 s later (`docker stop`'s grace, the longer of the two it uses),
 * and the kill landing and the engine stamping the exit take a moment more under load.
 */
export const RECEIPT_KILL_GRACE_MS = 10_000
/**
 * How far a receipt's times may be from this client's clock (its acceptance, now): the same
 * skew a provider allows a job request (wire.ts, JOB_REQUEST_MAX_SKEW_MS).
 */
export const RECEIPT_CLOCK_SKEW_MS = 5 * 60_000

const ms = z.number().int().nonnegative()
const time = ms.nullable()

export const Receipt = z.object({
  version: z.literal(1),
  jobId: z.string().min(1).max(64),
  leaseId: z.string().min(1).max(64),
  specCid: CidLink,
  provider: z.string().min(1).max(128),
  client: z.string().min(1).max(128),
  /** how the job ended (a receipt is only made for a job that ended on the provider) */
  state: z.enum(['success', 'failed', 'timeout', 'stopped']),
  exitCode: z.number().int().nullable(),
  /** why, when it did not succeed: "exit code 3", "output over 1 GiB", "image missing", … */
  reason: z.string().max(1024).nullable(),
  times: z.object({ acceptedAt: ms, preparingAt: time, runningAt: time, exitedAt: time, uploadedAt: ms }).strict(),
  /** preparing (fetching inputs and environment) and running, timed apart */
  preparingMs: ms,
  runMs: ms,
  /**
   * when the job's environment image was not held and was fetched for it: bytes moved, and
   * the fetch and the `docker load` timed apart (both within preparingMs)
   */
  environment: z.object({ fetchedBytes: ms, fetchMs: ms, loadMs: ms }).strict().optional(),
  usage: z.object({ cpuSeconds: z.number().nonnegative(), peakMemoryBytes: ms, gpuSeconds: z.number().nonnegative() }).strict(),
  pricePerHour: z.number().nonnegative(),
  cost: z.number().nonnegative(),
  outputCid: CidLink.nullable(),
  outputBytes: ms,
  logsCid: CidLink.nullable()
}).strict()
export type Receipt = z.infer<typeof Receipt>

export const SignedReceipt = z.object({
  payload: Bytes,
  signature: Bytes.refine(s => s.byteLength <= 512, { message: 'signature too long' })
}).strict()
export type SignedReceipt = z.infer<typeof SignedReceipt>

export function encodeReceipt (receipt: Receipt): Uint8Array {
  return dagCbor.encode(Receipt.parse(receipt))
}

export function decodeReceipt (payload: Uint8Array): Receipt {
  if (payload.byteLength > MAX_RECEIPT_BYTES) throw new RangeError(`receipt of ${payload.byteLength} bytes; at most ${MAX_RECEIPT_BYTES} are allowed`)
  return Receipt.parse(dagCbor.decode(payload))
}

/** The receipt as JSON (CIDs as strings), for the API and `--json`. */
export function receiptView (receipt: Receipt): ReceiptView {
  return { ...receipt, specCid: receipt.specCid.toString(), outputCid: receipt.outputCid?.toString() ?? null, logsCid: receipt.logsCid?.toString() ?? null }
}

export const ReceiptView = z.object({
  ...Receipt.shape,
  specCid: z.string(),
  outputCid: z.string().nullable(),
  logsCid: z.string().nullable()
})
export type ReceiptView = z.infer<typeof ReceiptView>

