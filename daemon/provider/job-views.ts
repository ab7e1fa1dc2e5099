import type { ServedJob } from '../../protocol/jobs/view.js'
import { receiptOf, type LiveJob } from './live-job.js'

/** Jobs this provider holds (running, or finished and kept for pickup), newest first, as `floe provider` lists them. */
export function servedJobs (jobs: Iterable<LiveJob>): ServedJob[] {
  return [...jobs]
    .sort((a, b) => b.record.acceptedAt - a.record.acceptedAt)
    .map(job => {
      const receipt = receiptOf(job)
      return {
        jobId: job.record.jobId,
        client: job.record.client,
        specCid: job.request.specCid.toString(),
        environment: job.spec.environment,
        command: job.spec.command,
        state: job.record.state,
        acceptedAt: new Date(job.record.acceptedAt).toISOString(),
        pricePerHour: job.record.pricePerHour,
        cost: receipt?.cost ?? null,
        exitCode: receipt?.exitCode ?? null,
        outputCid: receipt?.outputCid?.toString() ?? null,
        keepUntil: job.record.keepUntil == null ? null : new Date(job.record.keepUntil).toISOString(),
        logLines: job.log.lastSeq()
      }
    })
}

/**
 * Whether `peer` is the client of a job here whose output, logs or saved workspace home is
 * `root`: the client may fetch those from this provider (daemon/transfer/entitlement.ts).
 */
export function servesClient (jobs: Iterable<LiveJob>, root: string, peer: string): boolean {
  for (const job of jobs) {
    if (job.record.client !== peer) continue
    const receipt = receiptOf(job)
    if (job.record.snapshot === root || receipt?.outputCid?.toString() === root || receipt?.logsCid?.toString() === root) return true
  }
  return false
}
