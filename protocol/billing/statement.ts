import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { BILLING_PROTOCOL, JobId, PeerIdString, SETTLEMENT_SIGNING_DOMAIN, STATEMENT_SIGNING_DOMAIN } from '../ids.js'
import { Bytes } from '../jobs/spec.js'
import { SignedDoc } from './metering.js'

/**
 * `/floe/billing/1.0.0`: two nodes compare their ledgers. One stream per exchange, each
 * message one length-prefixed dag-cbor value:
 *
 *   asker → answerer: `statement` (its signed statement to the answerer) or `settle` (a
 *                     settlement it signed, to be countersigned)
 *   answerer → asker: `statement` (its own, made after taking in the asker's vouchers),
 *                     `settled` (the settlement with both signatures) or `refused`
 *
 * A statement lists, per job between the two, what its signer counts (micro-credits) and the
 * highest voucher it holds: a voucher is the client's signature, so the side that lacks it
 * (a crash, a lost final voucher) takes it in, and one exchange brings honest ledgers level.
 */
export { BILLING_PROTOCOL, SETTLEMENT_SIGNING_DOMAIN, STATEMENT_SIGNING_DOMAIN }
/** One statement may list this many jobs (10,000 jobs with vouchers are ~4 MiB). */
export const MAX_STATEMENT_JOBS = 10_000
export const MAX_BILLING_MESSAGE_BYTES = 6 * 1024 * 1024
/** How long an exchange may take end to end (a 6 MiB statement each way on a slow link is seconds). */
export const BILLING_EXCHANGE_TIMEOUT_MS = 30_000
export const BILLING_MAX_INBOUND_STREAMS = 4
export const BILLING_MAX_OUTBOUND_STREAMS = 4

export const StatementLine = z.object({
  jobId: JobId,
  /** the signer's part in the job */
  role: z.enum(['client', 'provider']),
  /** micro-credits it counts for the job */
  amount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  final: z.boolean(),
  voucher: SignedDoc.nullable()
}).strict()
export type StatementLine = z.infer<typeof StatementLine>

export const LedgerStatement = z.object({
  version: z.literal(1),
  from: PeerIdString,
  to: PeerIdString,
  at: z.number().int().nonnegative(),
  jobs: z.array(StatementLine).max(MAX_STATEMENT_JOBS)
}).strict()
export type LedgerStatement = z.infer<typeof LedgerStatement>

/** What both sides sign when they settle outside floe: the net of their ledgers at that time. */
export const Settlement = z.object({
  version: z.literal(1),
  /** who proposed it, and the counterparty */
  a: PeerIdString,
  b: PeerIdString,
  /** micro-credits a owes b, net of everything before (negative: b owes a) */
  aOwesB: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  jobs: z.number().int().nonnegative(),
  /** how it was settled: `bilateral` (recorded by both, paid outside floe) */
  method: z.string().min(1).max(64),
  at: z.number().int().nonnegative()
}).strict()
export type Settlement = z.infer<typeof Settlement>

const Signed = z.object({ payload: Bytes, signature: Bytes.refine(s => s.byteLength <= 512) }).strict()

export const BillingRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('statement'), statement: Signed }).strict(),
  z.object({ type: z.literal('settle'), settlement: Signed }).strict()
])
export type BillingRequest = z.infer<typeof BillingRequest>

export const BillingAnswer = z.discriminatedUnion('type', [
  z.object({ type: z.literal('statement'), statement: Signed }).strict(),
  z.object({ type: z.literal('settled'), signature: Bytes.refine(s => s.byteLength <= 512) }).strict(),
  z.object({ type: z.literal('refused'), message: z.string().max(1024) }).strict()
])
export type BillingAnswer = z.infer<typeof BillingAnswer>

/** A billing message that does not decode or fit its schema. */
export class BillingProtocolError extends Error {
  override name = 'BillingProtocolError'
}

function decode<T> (schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new BillingProtocolError(`${what} is not dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new BillingProtocolError(`${what} does not fit ${BILLING_PROTOCOL}: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

export const encodeBillingMessage = (message: BillingRequest | BillingAnswer): Uint8Array => dagCbor.encode(message)
export const decodeBillingRequest = (bytes: Uint8Array): BillingRequest => decode(BillingRequest, bytes, 'billing request')
export const decodeBillingAnswer = (bytes: Uint8Array): BillingAnswer => decode(BillingAnswer, bytes, 'billing answer')
export const encodeLedgerStatement = (statement: LedgerStatement): Uint8Array => dagCbor.encode(LedgerStatement.parse(statement))
export const decodeLedgerStatement = (bytes: Uint8Array): LedgerStatement => decode(LedgerStatement, bytes, 'ledger statement')
export const encodeSettlement = (settlement: Settlement): Uint8Array => dagCbor.encode(Settlement.parse(settlement))
export const decodeSettlement = (bytes: Uint8Array): Settlement => decode(Settlement, bytes, 'settlement')
