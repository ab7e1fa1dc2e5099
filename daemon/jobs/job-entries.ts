import { isFinal } from '../../protocol/jobs/job.js'
import type { SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { ProjectLog } from '../projects/project-log.js'
import type { JobRecord } from './records.js'

const bytes = (base64: string): Uint8Array => new Uint8Array(Buffer.from(base64, 'base64'))

/** The receipt kept with a record (base64), as the log carries it. */
export function signedReceiptOf (record: Pick<JobRecord, 'signedReceipt'>): SignedReceipt | null {
  return record.signedReceipt == null ? null : { payload: bytes(record.signedReceipt.payload), signature: bytes(record.signedReceipt.signature) }
}

/**
 * Brings the project log up to what the job's record says: a job.started for each provider
 * that took it, a job.lost for each that was lost, and how it ended (job.finished with the
 * receipt, else stopped, lost or failed). The log's row says what is logged already, so this
 * is safe to call again (after a crash, after each save). Calls for one job must take turns.
 * A job logged lost and then followed again (daemon/jobs/reconcile.ts) gets a job.started.
 */
export async function logJobProgress (projects: ProjectLog, record: JobRecord): Promise<void> {
  const row = await projects.jobRowById(record.jobId)
  if (row == null) return
  const steps = record.attempts.filter(a => a.outcome === 'accepted' || a.outcome === 'lost')
  const logged = row.attempts.length
  // an ended job is logged once; only a job logged lost that its provider turned out to
  // still have (followed again: a new start) goes on
  if (isFinal(row.state) && !(row.state === 'lost' && steps.length > logged)) return
  const pid = row.projectId
  const job = record.jobId
  for (let i = logged; i < steps.length; i++) {
    const step = steps[i] as JobRecord['attempts'][number]
    const last = i === steps.length - 1
    if (step.outcome === 'accepted') {
      await projects.write(pid, 'job.started', { job, provider: step.provider, pricePerHour: last ? record.pricePerHour ?? 0 : 0 })
    } else {
      await projects.write(pid, 'job.lost', { job, provider: step.provider, reason: step.reason, final: last && record.state === 'lost' })
    }
  }
  if (!isFinal(record.state)) return
  const receipt = signedReceiptOf(record)
  if (receipt != null) {
    await projects.write(pid, 'job.finished', { job, receipt, metrics: record.metrics, logLines: record.logLines })
  } else if (record.state === 'stopped') {
    await projects.write(pid, 'job.stopped', { job, reason: record.reason })
  } else if (record.state !== 'lost' || steps.at(-1)?.outcome !== 'lost') {
    // failed before or without a receipt (no provider, the output could not be fetched)
    await projects.write(pid, 'job.failed', { job, reason: record.reason })
  }
}
