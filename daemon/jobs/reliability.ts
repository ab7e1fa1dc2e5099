import { isFinal } from '../../protocol/jobs/job.js'
import type { JobRecord } from './records.js'

/**
 * Each provider's record as this node saw it: of the jobs it took, the share it carried to
 * an end (a receipt, whatever the job's own exit) rather than losing them or ending them
 * with a receipt this node refused (a dispute). Fed every job
 * record as it changes; a provider never seen has no record (matching then counts 0.5).
 */
export function reliabilityTally () {
  /** per job: the provider that ended it, and those that lost it */
  const jobs = new Map<string, { ended: string | null, lost: string[] }>()
  const ended = new Map<string, number>()
  const lost = new Map<string, number>()
  const add = (counts: Map<string, number>, peer: string, n: number): void => { counts.set(peer, (counts.get(peer) ?? 0) + n) }

  return {
    update (record: Pick<JobRecord, 'jobId' | 'state' | 'provider' | 'receipt' | 'attempts' | 'dispute'>): void {
      const before = jobs.get(record.jobId)
      if (before != null) {
        if (before.ended != null) add(ended, before.ended, -1)
        for (const peer of before.lost) add(lost, peer, -1)
      }
      const now = {
        // a job with a dispute (a refused receipt, or a refused usage statement) was not carried to an accepted end
        ended: isFinal(record.state) && record.receipt != null && record.dispute == null ? record.receipt.provider : null,
        // a refused receipt (a dispute) counts against its provider as a loss does
        // a loss its provider disproved (it still had the job, which was followed again) is not counted
        lost: [
          ...record.attempts.filter((a, i) => a.outcome === 'lost' && !record.attempts.slice(i + 1).some(b => b.outcome === 'accepted' && b.provider === a.provider)).map(a => a.provider),
          ...(record.dispute != null ? [record.dispute.provider] : [])
        ]
      }
      jobs.set(record.jobId, now)
      if (now.ended != null) add(ended, now.ended, 1)
      for (const peer of now.lost) add(lost, peer, 1)
    },
    /** 0..1, or undefined for a provider with no finished or lost job here */
    of (peer: string): number | undefined {
      const good = ended.get(peer) ?? 0
      const bad = lost.get(peer) ?? 0
      return good + bad === 0 ? undefined : good / (good + bad)
    }
  }
}
