import type { ClassicLevel } from 'classic-level'
import { admitSamples, MAX_SYSTEM_SAMPLES_PER_JOB, type SystemSample } from '../../protocol/jobs/system-metrics.js'

type Index = Pick<ClassicLevel<string, string>, 'batch' | 'iterator'>

const SYSTEM = 'job-system!'
const pad = (n: number): string => String(n).padStart(15, '0')

/** What became of a batch of samples from a provider. */
export interface SystemAppend {
  kept: number
  /** samples too close together or dated in the future */
  dropped: number
  /** the series was past MAX_SYSTEM_SAMPLES_PER_JOB and was halved */
  thinned: boolean
}

/**
 * The system samples of the jobs this node submitted, in the index:
 * `job-system!<jobId>!<at>` → sample. What a provider sends is admitted by admitSamples
 * (at most ~1 a second, none from the future); past `maxPerJob` a job's series is thinned to
 * every other sample, so a job keeps at most that many however long it runs or whatever its
 * provider sends. The newest time and count per job are kept in memory (a few dozen bytes
 * per job followed since the daemon started).
 */
export function systemSamples (index: Index, options: { maxPerJob?: number } = {}) {
  const maxPerJob = options.maxPerJob ?? MAX_SYSTEM_SAMPLES_PER_JOB
  const known = new Map<string, { lastAt: number, count: number }>()
  const range = (jobId: string): { gt: string, lt: string } => ({ gt: `${SYSTEM}${jobId}!`, lt: `${SYSTEM}${jobId}!\xff` })

  const stateOf = async (jobId: string): Promise<{ lastAt: number, count: number }> => {
    let state = known.get(jobId)
    if (state != null) return state
    state = { lastAt: 0, count: 0 }
    for await (const [key] of index.iterator(range(jobId))) {
      state.count++
      state.lastAt = Number(key.slice(key.lastIndexOf('!') + 1))
    }
    known.set(jobId, state)
    return state
  }

  const thin = async (jobId: string): Promise<number> => {
    const drop: string[] = []
    let n = 0
    for await (const [key] of index.iterator(range(jobId))) if (n++ % 2 === 1) drop.push(key)
    await index.batch(drop.map(key => ({ type: 'del' as const, key })))
    return n - drop.length
  }

  return {
    async append (jobId: string, samples: SystemSample[], now = Date.now()): Promise<SystemAppend> {
      const state = await stateOf(jobId)
      const { kept, dropped } = admitSamples(state.lastAt, samples, now)
      if (kept.length > 0) {
        await index.batch(kept.map(sample => ({ type: 'put' as const, key: `${SYSTEM}${jobId}!${pad(sample.at)}`, value: JSON.stringify(sample) })))
        state.count += kept.length
        state.lastAt = kept[kept.length - 1]?.at ?? state.lastAt
      }
      let thinned = false
      if (state.count > maxPerJob) {
        state.count = await thin(jobId)
        thinned = true
      }
      return { kept: kept.length, dropped, thinned }
    },

    async series (jobId: string): Promise<SystemSample[]> {
      const samples: SystemSample[] = []
      for await (const [, value] of index.iterator(range(jobId))) samples.push(JSON.parse(value) as SystemSample)
      return samples
    },

    /** forgets the in-memory state of a job (it ended) */
    forget (jobId: string): void {
      known.delete(jobId)
    }
  }
}

export type SystemSamples = ReturnType<typeof systemSamples>
