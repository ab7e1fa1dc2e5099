import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { JOB_PROTOCOL, JOB_PROTOCOL_V1_0, JOB_PROTOCOL_V1_1, JOB_PROTOCOL_V1_2, JOB_REQUEST_SIGNING_DOMAIN, JobId } from '../ids.js'
import { SignedDoc } from '../billing/metering.js'
import { JobState, LogLine } from './job.js'
import { SignedReceipt } from './receipt.js'
import { MAX_SYSTEM_SAMPLES_PER_MESSAGE, SystemSample } from './system-metrics.js'
import { Bytes, CidLink, MAX_SPEC_BYTES } from './spec.js'

/**
 * `/floe/job/1.3.0`: one direct stream per job between client and provider (never pubsub).
 * Every message is one length-prefixed dag-cbor value.
 *
 *   client → provider, first: `submit` (a signed request) or `attach` (to a job already
 *                             accepted: resume its log after the last line held)
 *   provider → client:        `refused` (and the stream ends) or `accepted`, then `state`,
 *                             `lines` (log lines, batched), `heartbeat`, `usage` (a signed usage
 *                             statement every metering interval while it runs, 1.2.0) and, for a
 *                             workspace, `home-saved` messages as they happen, `system` (1.3.0:
 *                             the container's CPU, memory, disk and GPU samples, at most one a
 *                             second, see system-metrics.ts), for a workspace `activity` (1.3.0:
 *                             its last terminal or port traffic) and `save-refused` (1.3.0: a
 *                             `save-home` not done; see workspace-activity.ts), and `finished`
 *                             (the signed receipt) when the job has ended
 *   client → provider, after: `heartbeat`, `cancel`, `voucher` (1.2.0: the signed cumulative
 *                             promise answering each statement, and a final one answering the
 *                             receipt; see protocol/billing/metering.ts), `save-home` (1.3.0:
 *                             a workspace's home saved now, answered by a `home-saved` with
 *                             `requested: true` or by `save-refused`)
 *
 * A job submitted over 1.1.0 or 1.0.0 is not metered: its client does not know the messages.
 *
 * Both sides send a heartbeat every JOB_HEARTBEAT_MS; a side that hears nothing for
 * JOB_SILENCE_MS counts the other as gone (the client reattaches, then calls the job lost;
 * the provider lets the job finish and keeps the output for pickup).
 */
export { JOB_PROTOCOL, JOB_PROTOCOL_V1_0, JOB_PROTOCOL_V1_1, JOB_PROTOCOL_V1_2 }
/** What a client dials, newest first, and a provider serves. */
export const JOB_PROTOCOLS: readonly string[] = [JOB_PROTOCOL, JOB_PROTOCOL_V1_2, JOB_PROTOCOL_V1_1, JOB_PROTOCOL_V1_0]
/** Whether a stream of this protocol carries metering (`usage` and `voucher`, 1.2.0 on). */
export const meteredProtocol = (protocol: string | undefined): boolean => protocol === JOB_PROTOCOL || protocol === JOB_PROTOCOL_V1_2
/** Whether a stream of this protocol carries `system` samples (1.3.0 on). */
export const systemMetricsProtocol = (protocol: string | undefined): boolean => protocol === JOB_PROTOCOL
export const JOB_MAX_INBOUND_STREAMS = 64
export const JOB_MAX_OUTBOUND_STREAMS = 64
export const MAX_JOB_MESSAGE_BYTES = MAX_SPEC_BYTES + 64 * 1024 + 1024
/** Log lines travel in batches: at most this many, and no more bytes of text than LOG_BATCH_BYTES unless one line alone is longer. */
export const MAX_LOG_BATCH_LINES = 1024
export const LOG_BATCH_BYTES = 96 * 1024
export const JOB_HEARTBEAT_MS = 2_000
export const JOB_SILENCE_MS = 3 * JOB_HEARTBEAT_MS + 1_000
/** How long a provider waits for the first message of a stream. */
export const JOB_REQUEST_TIMEOUT_MS = 10_000
/**
 * Streams whose first message the provider reads at once: all peers together, and one peer.
 * Each may hold a whole message (MAX_JOB_MESSAGE_BYTES, ~193 KiB) for JOB_REQUEST_TIMEOUT_MS,
 * libp2p caps streams per connection only, and peer ids cost nothing: without a total, 24
 * peers each holding 64 part-sent requests took a provider past 600 MiB
 * (test/fuzz/protocols.test.ts). 64 in all is ~12 MiB. An honest client's first message
 * arrives within milliseconds; one refused as `busy` waits (submit) or reattaches (attach).
 */
export const JOB_MAX_PENDING_REQUESTS = 64
export const JOB_MAX_PENDING_REQUESTS_PER_PEER = 16
/** How far a request's issue time may be from the provider's clock. */
export const JOB_REQUEST_MAX_SKEW_MS = 5 * 60_000
export { JOB_REQUEST_SIGNING_DOMAIN }

const PeerId = z.string().min(1).max(128)

/** What the client signs: which job, for whom, the spec itself, and the most it will pay. */
export const JobRequest = z.object({
  version: z.literal(1),
  jobId: JobId,
  client: PeerId,
  /** the provider it is meant for, so it cannot be replayed to another */
  provider: PeerId,
  /** the spec block (protocol/jobs/spec.ts); its CID must be specCid */
  spec: Bytes.refine(b => b.byteLength <= MAX_SPEC_BYTES, { message: 'spec too large' }),
  specCid: CidLink,
  /** credits per hour for the requested shape: the provider refuses when its price is higher */
  maxPricePerHour: z.number().nonnegative().max(1e9),
  /** milliseconds since the epoch */
  issuedAt: z.number().int().positive()
}).strict()
export type JobRequest = z.infer<typeof JobRequest>

export const RefusalReason = z.enum(['busy', 'environment-missing', 'price', 'not-allowed', 'too-big', 'invalid', 'unknown-job'])
export type RefusalReason = z.infer<typeof RefusalReason>

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('submit'), request: Bytes, signature: Bytes.refine(s => s.byteLength <= 512) }).strict(),
  /** resume: every log line after `after` (0 for all), the current state, and the receipt once there is one */
  z.object({ type: z.literal('attach'), jobId: JobId, after: z.number().int().nonnegative() }).strict(),
  z.object({ type: z.literal('heartbeat') }).strict(),
  z.object({ type: z.literal('cancel') }).strict(),
  /** 1.2.0: the client's signed cumulative promise (protocol/billing/metering.ts) */
  z.object({ type: z.literal('voucher'), voucher: SignedDoc }).strict(),
  /** 1.3.0: save the workspace's home now (protocol/jobs/workspace-activity.ts) */
  z.object({ type: z.literal('save-home') }).strict()
])
export type ClientMessage = z.infer<typeof ClientMessage>

export const ProviderMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('refused'), reason: RefusalReason, message: z.string().max(1024) }).strict(),
  z.object({ type: z.literal('accepted'), jobId: JobId, leaseId: z.string().min(1).max(64), pricePerHour: z.number().nonnegative().max(1e9), gpus: z.array(z.number().int().nonnegative().max(63)).max(64) }).strict(),
  z.object({ type: z.literal('state'), state: JobState, at: z.number().int().nonnegative(), message: z.string().max(1024).optional() }).strict(),
  /** log lines in order, as many as fit LOG_BATCH_BYTES (at least one) */
  z.object({ type: z.literal('lines'), lines: z.array(LogLine).min(1).max(MAX_LOG_BATCH_LINES) }).strict(),
  z.object({ type: z.literal('heartbeat') }).strict(),
  /** a workspace's home, saved while it runs or as it stops (1.1.0): the client keeps it, so a restart can start from it */
  z.object({
    type: z.literal('home-saved'),
    home: CidLink,
    bytes: z.number().int().nonnegative(),
    at: z.number().int().nonnegative(),
    /** 1.3.0: the save a `save-home` asked for (never sent on an older stream) */
    requested: z.literal(true).optional()
  }).strict(),
  z.object({ type: z.literal('finished'), receipt: SignedReceipt }).strict(),
  /** 1.2.0: a signed usage statement while the job runs (protocol/billing/metering.ts) */
  z.object({ type: z.literal('usage'), statement: SignedDoc }).strict(),
  /** 1.3.0: the job's system samples since the last message, oldest first (protocol/jobs/system-metrics.ts) */
  z.object({ type: z.literal('system'), samples: z.array(SystemSample).min(1).max(MAX_SYSTEM_SAMPLES_PER_MESSAGE) }).strict(),
  /** 1.3.0: a workspace's last terminal or port traffic, ms since the epoch, the provider's clock (protocol/jobs/workspace-activity.ts) */
  z.object({ type: z.literal('activity'), activeAt: z.number().int().nonnegative().max(2 ** 53 - 1) }).strict(),
  /** 1.3.0: a `save-home` not done, and why */
  z.object({ type: z.literal('save-refused'), message: z.string().max(1024) }).strict()
])
export type ProviderMessage = z.infer<typeof ProviderMessage>

/** The provider is reading as many first messages as it allows (from this peer, or from all); the stream is refused as `busy`. */
export class JobServerBusyError extends Error {
  override name = 'JobServerBusyError'
}

/** A peer broke the protocol: a message that does not decode or fit its schema. */
export class JobProtocolError extends Error {
  override name = 'JobProtocolError'
}

export function encodeJobMessage (message: ClientMessage | ProviderMessage): Uint8Array {
  const plain: Record<string, unknown> = { ...message }
  for (const key of Object.keys(plain)) if (plain[key] === undefined) delete plain[key]
  return dagCbor.encode(plain)
}

function decode<T> (schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new JobProtocolError(`${what} message is not valid dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new JobProtocolError(`${what} message does not fit ${JOB_PROTOCOL}: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

export function decodeClientMessage (bytes: Uint8Array): ClientMessage {
  return decode(ClientMessage, bytes, 'client')
}

export function decodeProviderMessage (bytes: Uint8Array): ProviderMessage {
  return decode(ProviderMessage, bytes, 'provider')
}

export function encodeJobRequest (request: JobRequest): Uint8Array {
  return dagCbor.encode(JobRequest.parse(request))
}

export function decodeJobRequest (bytes: Uint8Array): JobRequest {
  return decode(JobRequest, bytes, 'job request')
}
