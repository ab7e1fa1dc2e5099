import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { Logger } from '../log.js'

/** A job whose end is noticed this long after it was stated (a save after a restart) is not news. */
const STALE_END_MS = 60_000

/** How long a job ran: its receipt's running time, else from running to its end. */
export function runSeconds (job: JobView): number | null {
  if (job.receipt != null) return job.receipt.runMs / 1000
  const started = job.states.find(s => s.state === 'running')?.at
  const ended = job.states.at(-1)?.at
  if (started == null || ended == null) return null
  return Math.max(0, (Date.parse(ended) - Date.parse(started)) / 1000)
}

/**
 * The moments of a job this node submitted that a person hears of: it started running on a
 * provider, it ended. Logged as events (`job.started`, `job.ended`: a human line on a
 * terminal, see log-pretty.ts) and handed to `onEnded` (notifications) once per end.
 */
export function jobEvents (components: { self: string, log: Pick<Logger, 'info'>, onEnded?: (job: JobView) => void }) {
  const last = new Map<string, string>()
  return {
    /** a save of the job's record */
    note (job: JobView): void {
      const before = last.get(job.jobId)
      if (before === job.state) return
      last.set(job.jobId, job.state)
      if (job.state === 'running') {
        components.log.info({ event: 'job.started', ref: job.ref, jobId: job.jobId, provider: job.provider, self: components.self }, 'job started')
      } else if (isFinal(job.state)) {
        last.delete(job.jobId)
        const endedAt = Date.parse(job.states.at(-1)?.at ?? '')
        // a job seen for the first time already ended: news only when it just did
        if (before == null && !(Date.now() - endedAt < STALE_END_MS)) return
        components.log.info({ event: 'job.ended', ref: job.ref, jobId: job.jobId, state: job.state, seconds: runSeconds(job), reason: job.reason ?? undefined }, 'job ended')
        components.onEnded?.(job)
      }
    }
  }
}
