import { rm } from 'node:fs/promises'
import { pinReasons } from '../store/pin-reasons.js'
import { removeJobDisk } from './job-disk.js'
import { receiptOf, type JobTable } from './live-job.js'
import type { ProviderJobsComponents } from './provider-jobs.js'

/** How often finished jobs past their pickup time are cleaned up. */
const CLEANUP_INTERVAL_MS = 60_000

export type PickupComponents = Pick<ProviderJobsComponents, 'pins' | 'log'> & {
  table: Pick<JobTable, 'jobs' | 'records' | 'dir'>
}

/**
 * A finished job's output and log wait for its client for `keepOutputSeconds` (a client that
 * was away picks them up later), then go: unpinned, the job's folder and record removed. A
 * sweep runs every minute (it also covers jobs a restart found past their time); a job due
 * sooner than the next sweep gets a timer of its own.
 */
export function pickup ({ table, pins, log }: PickupComponents) {
  let sweeper: NodeJS.Timeout | undefined
  const expiries = new Set<NodeJS.Timeout>()

  /** Finished jobs past their pickup time: output unpinned, files and record removed. */
  const cleanup = async (): Promise<void> => {
    const now = Date.now()
    for (const job of [...table.jobs.values()]) {
      if (job.record.keepUntil == null || job.record.keepUntil > now) continue
      const { jobId } = job.record
      const receipt = receiptOf(job)
      table.jobs.delete(jobId)
      for (const cid of [receipt?.outputCid, receipt?.logsCid]) if (cid != null) await pinReasons.jobOutput(jobId).remove(pins, cid)
      await removeJobDisk(table.dir(jobId))
      await rm(table.dir(jobId), { recursive: true, force: true })
      await table.records.del(jobId)
      log.info({ jobId }, 'job output past its pickup time: cleaned up')
    }
  }

  const sweep = (): void => { cleanup().catch((err: Error) => { log.warn({ err: err.message }, 'job cleanup failed') }) }

  return {
    cleanup,
    /** A cleanup when a job's pickup time has passed (the periodic sweep covers later ones). */
    expireAt (when: number): void {
      if (when - Date.now() > CLEANUP_INTERVAL_MS) return
      const timer = setTimeout(() => {
        expiries.delete(timer)
        sweep()
      }, Math.max(0, when - Date.now()) + 10)
      timer.unref()
      expiries.add(timer)
    },
    /** Cleans up what is due now, then sweeps every minute. */
    async start (): Promise<void> {
      if (sweeper != null) return
      await cleanup()
      sweeper = setInterval(sweep, CLEANUP_INTERVAL_MS)
      sweeper.unref()
    },
    stop (): void {
      clearInterval(sweeper)
      sweeper = undefined
      for (const timer of expiries) clearTimeout(timer)
      expiries.clear()
    }
  }
}

export type Pickup = ReturnType<typeof pickup>
