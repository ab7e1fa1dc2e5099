import { z } from 'zod'
import { JobState, LogLine } from './job.js'
import { MetricPoint } from './metrics.js'
import { ReceiptView } from './receipt.js'
import { JobSpecView } from './spec.js'

/**
 * A receipt this client refused (daemon/jobs/receipt-check.ts): the provider's claim, kept
 * as evidence and not counted; the provider's reliability counts it against it.
 */
export const JobDispute = z.object({
  provider: z.string(),
  /** which check the receipt failed: invalid, provider, signature, job, times, running-time, price, cost, state */
  refusal: z.string(),
  message: z.string(),
  at: z.string(),
  /** the receipt as the provider stated it, when it decoded */
  claimed: ReceiptView.nullable(),
  /** whether the output and logs it names were fetched and pinned here, as evidence */
  outputFetched: z.boolean()
})
export type JobDispute = z.infer<typeof JobDispute>

/** A job as the client's daemon knows it: what `floe status JOB --json` prints. */
export const JobView = z.object({
  jobId: z.string(),
  /** `OWNER/PROJECT/N` */
  ref: z.string(),
  /** `OWNER/PROJECT` */
  project: z.string(),
  /** the CID of the project's genesis entry */
  projectId: z.string(),
  number: z.number().int().positive(),
  /** the member that submitted it */
  author: z.string(),
  message: z.string(),
  createdAt: z.string(),
  specCid: z.string(),
  spec: JobSpecView,
  /** marked as giving the same output for the same spec: `rerun --reuse` may return its output */
  deterministic: z.boolean(),
  /** the earlier job whose output this one returned without running (`rerun --reuse`) */
  reusedFrom: z.string().nullable(),
  /** the refs the inputs were named by, beside their mounts */
  inputs: z.array(z.object({ ref: z.string(), cid: z.string(), mount: z.string() })),
  maxPricePerHour: z.number().nullable(),
  /** the most this job may be promised in all (credits, --max-cost) */
  maxCost: z.number().nullable().optional(),
  /** what this client has promised its provider so far (credits; its highest voucher) */
  promised: z.number().nullable().optional(),
  /** the provider asked for with --provider, if any */
  requestedProvider: z.string().nullable(),
  retries: z.number().int().nonnegative(),
  state: JobState,
  states: z.array(z.object({ state: JobState, at: z.string() })),
  /** the provider running (or that ran) it */
  provider: z.string().nullable(),
  pricePerHour: z.number().nullable(),
  /** every provider tried, and how it went */
  attempts: z.array(z.object({ provider: z.string(), outcome: z.string(), reason: z.string().nullable(), at: z.string() })),
  exitCode: z.number().int().nullable(),
  /** why it did not succeed, when it did not */
  reason: z.string().nullable(),
  outputCid: z.string().nullable(),
  logsCid: z.string().nullable(),
  /** a workspace's latest home saved while it runs (its output is the home as it stopped) */
  homeCid: z.string().nullable().optional(),
  receipt: ReceiptView.nullable(),
  /** a receipt refused as not matching the deal (its cost does not count) */
  dispute: JobDispute.nullable().optional(),
  logLines: z.number().int().nonnegative(),
  /** the latest point of each training metric the job printed */
  metrics: z.record(z.string(), MetricPoint),
  /** when `floe delete` tombstoned it (listings hide it unless --all) */
  deletedAt: z.string().nullable().optional(),
  /** a running workspace's last terminal or port traffic, as its provider last said (1.3.0; absent: not known) */
  lastActiveAt: z.string().optional(),
  /** when a running workspace stops for idleness: lastActiveAt + its idle timeout (absent: not known) */
  idleStopAt: z.string().optional(),
  /** metric lines (stdout JSON naming "metric") that could not be read, so are in no chart */
  metricsDropped: z.number().int().nonnegative().optional()
})
export type JobView = z.infer<typeof JobView>

/** A job as its provider holds it: what `floe provider jobs` lists. */
export const ServedJob = z.object({
  jobId: z.string(),
  client: z.string(),
  specCid: z.string(),
  environment: z.string(),
  command: z.array(z.string()),
  state: JobState,
  acceptedAt: z.string(),
  pricePerHour: z.number(),
  /** from the receipt, once the job has ended */
  cost: z.number().nullable(),
  exitCode: z.number().int().nullable(),
  outputCid: z.string().nullable(),
  /** until when its output is kept for pickup */
  keepUntil: z.string().nullable(),
  logLines: z.number().int().nonnegative()
})
export type ServedJob = z.infer<typeof ServedJob>

export { LogLine }
