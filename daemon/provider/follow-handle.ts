import type { JobState, LogLine } from '../../protocol/jobs/job.js'
import type { SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { SystemSample } from '../../protocol/jobs/system-metrics.js'
import type { LiveJob } from './live-job.js'
import { samplesAfter } from './system-sampler.js'

/** How a client follows its job on the provider (see job-server.ts). */
export interface FollowHandle {
  state(): { state: JobState, at: number }
  receipt(): SignedReceipt | undefined
  /** a workspace's newest saved home, once there is one */
  home(): LiveJob['home']
  /** a workspace's last terminal or port traffic (ms since the epoch); null for a batch job */
  activeAt(): number | null
  /** the newest usage statement, for a metered job (null: not metered) */
  usage(): LiveJob['usage']
  metered(): boolean
  /** the system samples after the `after`th (counted over the job's life), and how many there have been */
  system(after: number): { samples: SystemSample[], total: number }
  /** resolves when the client's final voucher has come, or after `ms` */
  finalVoucher(ms: number, signal: AbortSignal): Promise<void>
  /** at most `max` log lines after `after` */
  read(after: number, max: number): Promise<LogLine[]>
  lastSeq(): number
  /** resolves on a log line after `after`, a state change, the end, or `signal` */
  changed(after: number, signal: AbortSignal): Promise<void>
}

/**
 * A client's view of its job, to follow it: the current state, log lines from any point, the
 * receipt once there is one, and a wait for the next change. The wait registers a watcher
 * (woken by live-job.ts's `wake` on a state change) beside the log's own wait for new lines.
 */
export function followHandle (job: LiveJob): FollowHandle {
  return {
    state: () => job.record.states[job.record.states.length - 1] ?? { state: job.record.state, at: job.record.acceptedAt },
    receipt: () => job.receipt,
    home: () => job.home,
    activeAt: () => job.spec.workspace == null ? null : job.activeAt,
    usage: () => job.usage,
    metered: () => job.record.metered === true,
    system: after => ({ samples: samplesAfter(job.system, after), total: job.system?.total ?? 0 }),
    async finalVoucher (ms, signal) {
      job.finalVoucher ??= (() => { let resolve = (): void => {}; const promise = new Promise<void>(r => { resolve = r }); return { promise, resolve } })()
      const wait = AbortSignal.any([signal, AbortSignal.timeout(ms)])
      await Promise.race([job.finalVoucher.promise, new Promise<void>(resolve => { wait.addEventListener('abort', () => { resolve() }, { once: true }) })])
    },
    read: async (after, max) => await job.log.read(after, max),
    lastSeq: () => job.log.lastSeq(),
    async changed (after, signal) {
      if (signal.aborted) return
      const stop = new AbortController()
      const wake = (): void => { stop.abort() }
      job.watchers.add(wake)
      try {
        await job.log.waitFor(after, AbortSignal.any([signal, stop.signal]))
      } finally {
        job.watchers.delete(wake)
      }
    }
  }
}
