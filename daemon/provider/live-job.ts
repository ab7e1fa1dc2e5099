import type { CID } from 'multiformats/cid'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { SignedDoc } from '../../protocol/billing/metering.js'
import type { JobState } from '../../protocol/jobs/job.js'
import { decodeReceipt, type Receipt, type SignedReceipt } from '../../protocol/jobs/receipt.js'
import { decodeJobSpec, type JobSpec } from '../../protocol/jobs/spec.js'
import { decodeJobRequest, type JobRequest } from '../../protocol/jobs/wire.js'
import type { Logger } from '../log.js'
import { FreezeGate } from './freeze-gate.js'
import type { HeldSamples } from './system-sampler.js'
import { openJobLog, type JobLog } from './job-log.js'
import { fromBase64, providerJobRecords, type ProviderJobRecord } from './records.js'

/** A job this provider holds, in memory: its record (the truth, kept in the index) and what is derived from it. */
export interface LiveJob {
  record: ProviderJobRecord
  request: JobRequest
  spec: JobSpec
  log: JobLog
  cancel: AbortController
  /** woken when the job's state changes or it finishes (new log lines: log.waitFor) */
  watchers: Set<() => void>
  receipt?: SignedReceipt
  /** a workspace's last terminal or port traffic (ms since the epoch) */
  activeAt: number
  /** why it was stopped when not by its client (a workspace left idle) */
  stopReason?: string
  /** keeps a workspace's pauses (home saves) and execs into it apart */
  gate: FreezeGate
  /** a workspace's newest saved home, sent to its client as `home-saved` */
  home?: { home: CID, bytes: number, at: number, requested?: true }
  /** a running workspace's "save home now" (workspace-watch.ts): null when it will be done, else why not */
  saveHome?: () => string | null
  /** the newest signed usage statement (metered jobs), sent to its client as `usage` */
  usage?: SignedDoc
  /** the newest system samples (system-sampler.ts), sent to its client as `system` (1.3.0) */
  system?: HeldSamples
  /** resolved when the client's final voucher has come (metered jobs) */
  finalVoucher?: { promise: Promise<void>, resolve: () => void }
}

/** When the job was being prepared, started and exited in its container (null: it did not get there). */
export type PhaseTimes = Pick<Receipt['times'], 'preparingAt' | 'runningAt' | 'exitedAt'>

export type ProviderJobRecords = ReturnType<typeof providerJobRecords>

export interface JobTableComponents {
  index: Parameters<typeof providerJobRecords>[0]
  /** per-job folders (the job's disk image and mount, its log) live under it */
  jobsRoot: string
  log: Logger
}

/**
 * The jobs this provider holds and their records: what every part of a job's life (run,
 * conclusion, pickup, restart) shares. A state change is written to the index before the
 * job's followers are woken, so what a client is told is what a restart finds.
 */
export function jobTable ({ index, jobsRoot, log }: JobTableComponents) {
  const records = providerJobRecords(index)
  const jobs = new Map<string, LiveJob>()

  /** the job's own folder: its disk (see job-disk.ts) and its log */
  const dir = (jobId: string): string => join(jobsRoot, jobId)

  return {
    jobs,
    records,
    dir,
    /** a record made live: its request decoded, its log opened (a restart reads the log back) */
    async load (record: ProviderJobRecord): Promise<LiveJob> {
      const request = decodeJobRequest(fromBase64(record.request))
      await mkdir(dir(record.jobId), { recursive: true })
      return {
        record,
        request,
        spec: decodeJobSpec(request.spec),
        log: await openJobLog(join(dir(record.jobId), 'log.ndjson')),
        cancel: new AbortController(),
        watchers: new Set(),
        activeAt: Date.now(),
        gate: new FreezeGate(),
        ...(record.receipt != null ? { receipt: { payload: fromBase64(record.receipt.payload), signature: fromBase64(record.receipt.signature) } } : {})
      }
    },
    async setState (job: LiveJob, state: JobState, message?: string): Promise<void> {
      job.record.state = state
      job.record.states.push({ state, at: Date.now() })
      await records.put(job.record)
      log.info({ event: 'provider.job', jobId: job.record.jobId, client: job.record.client, state, message }, 'job state')
      wake(job)
    }
  }
}

export type JobTable = ReturnType<typeof jobTable>

/** Wakes whoever follows the job (see follow-handle.ts). */
export function wake (job: LiveJob): void {
  for (const watcher of job.watchers) watcher()
  job.watchers.clear()
}

/** A line of the provider's own in the job's log (what a client reads between the job's lines). */
export function systemLine (job: LiveJob, line: string): void {
  job.log.append({ at: Date.now(), stream: 'system', line })
}

export function receiptOf (job: LiveJob): Receipt | null {
  return job.receipt == null ? null : decodeReceipt(job.receipt.payload)
}
