import { isFinal, type JobState } from '../../protocol/jobs/job.js'
import { decodeProviderMessage, encodeJobMessage, JOB_HEARTBEAT_MS } from '../../protocol/jobs/wire.js'
import type { Logger } from '../log.js'
import type { RunnerComponents } from './job-runner.js'
import type { JobRecord } from './records.js'

/** How long a probe waits for a provider's first answer: two heartbeats, as a reattach does. */
export const PROBE_TIMEOUT_MS = JOB_HEARTBEAT_MS * 2
/** How often lost jobs' providers are asked again (one that was unreachable may be back). */
export const RECONCILE_INTERVAL_MS = 30_000
/**
 * How long after a job was called lost its provider is still asked: a provider keeps an
 * ended job's receipt and output for pickup a day by default (keepOutputSeconds); a job
 * running longer than that unheard of is not worth a dial every RECONCILE_INTERVAL_MS.
 */
export const RECONCILE_WINDOW_MS = 24 * 3_600_000

export type ProbeAnswer = { known: true, state: JobState } | { known: false, why: string }

/** Asks a job's provider, by attaching to it, whether it has the job, and in what state. */
export async function probeJob (open: RunnerComponents['open'], record: Pick<JobRecord, 'jobId' | 'provider' | 'logLines' | 'logBase'>): Promise<ProbeAnswer> {
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS)
  let channel: Awaited<ReturnType<RunnerComponents['open']>> | undefined
  try {
    channel = await open(record.provider as string, signal)
    await channel.send(encodeJobMessage({ type: 'attach', jobId: record.jobId, after: record.logLines - record.logBase }))
    const first = await channel.read({ signal })
    if (first == null) return { known: false, why: 'the provider ended the stream' }
    const answer = decodeProviderMessage(first)
    if (answer.type === 'refused') return { known: false, why: `${answer.reason}: ${answer.message}` }
    if (answer.type === 'state') return { known: true, state: answer.state }
    // a follow starts with the state; a receipt means it ended there
    return { known: true, state: answer.type === 'finished' ? 'success' : 'running' }
  } catch (err: any) {
    return { known: false, why: err?.message ?? String(err) }
  } finally {
    channel?.abort(new Error('probed'))
  }
}

export interface ReconcileComponents {
  open: RunnerComponents['open']
  /** the record as stored now */
  get: (jobId: string) => Promise<JobRecord | undefined>
  save: (record: JobRecord) => Promise<void>
  /** hands the record to a runner, which follows the job on its provider */
  follow: (record: JobRecord) => void
  following: (jobId: string) => boolean
  log: Logger
}

/**
 * One truth per job's state: a job this client called lost while its provider still has it
 * (this daemon's loop stalled, the network was cut for a while) is followed again, back to
 * the state the provider reports, and ends as the provider ends it. Lost jobs are noted as
 * they are saved (and at start), and their providers asked at start, every
 * RECONCILE_INTERVAL_MS for RECONCILE_WINDOW_MS, and before a stop.
 */
export function lostJobReconciler (components: ReconcileComponents) {
  const { log } = components
  /** jobId → when it was called lost */
  const lost = new Map<string, number>()
  const running = new Map<string, Promise<boolean>>()
  let timer: NodeJS.Timeout | undefined
  let sweeping: Promise<void> | undefined

  const lostAt = (record: JobRecord): number => Date.parse(record.states.findLast(s => s.state === 'lost')?.at ?? '') || Date.now()

  /** Whether the job, lost here, is followed again (its provider has it). */
  const reconcile = async (jobId: string, why: string): Promise<boolean> => {
    const record = await components.get(jobId)
    if (record == null || record.state !== 'lost' || record.provider == null || record.leaseId == null || components.following(jobId)) {
      lost.delete(jobId)
      return false
    }
    const answer = await probeJob(components.open, record)
    if (!answer.known) {
      log.debug({ jobId, provider: record.provider, why: answer.why }, 'a lost job\'s provider does not have it (or was not reached)')
      return false
    }
    const fresh = await components.get(jobId)
    if (fresh == null || fresh.state !== 'lost' || components.following(jobId)) return false
    const at = new Date().toISOString()
    const state: JobState = isFinal(answer.state) ? 'uploading' : answer.state
    fresh.attempts.push({ provider: fresh.provider as string, outcome: 'accepted', reason: `followed again (${why}): the provider still has the job, ${answer.state}`, at })
    fresh.state = state
    fresh.states.push({ state, at })
    fresh.reason = null
    await components.save(fresh)
    lost.delete(jobId)
    log.warn({ jobId, provider: fresh.provider, providerState: answer.state, why }, 'a job called lost is still on its provider: following it again')
    components.follow(fresh)
    return true
  }

  const once = async (jobId: string, why: string): Promise<boolean> => {
    const current = running.get(jobId)
    if (current != null) return await current
    const work = reconcile(jobId, why).finally(() => { running.delete(jobId) })
    running.set(jobId, work)
    return await work
  }

  const sweep = async (why: string): Promise<void> => {
    for (const [jobId, at] of [...lost]) {
      if (Date.now() - at > RECONCILE_WINDOW_MS) {
        lost.delete(jobId)
        continue
      }
      await once(jobId, why)
    }
  }
  const sweepLogged = (why: string): void => {
    if (sweeping != null) return
    sweeping = sweep(why)
      .catch((err: Error) => { log.warn({ err: err.message }, 'could not check lost jobs with their providers') })
      .finally(() => { sweeping = undefined })
  }

  return {
    /** every record as saved (and as found at start): a lost one with a provider is asked about */
    note (record: JobRecord): void {
      if (record.state === 'lost' && record.provider != null && record.leaseId != null) lost.set(record.jobId, lostAt(record))
      else lost.delete(record.jobId)
    },
    /** asks the provider of a lost job now (a stop wants the truth before refusing) */
    reconcile: async (jobId: string, why: string): Promise<boolean> => await once(jobId, why),
    start (): void {
      if (timer != null) return
      sweepLogged('the daemon started')
      timer = setInterval(() => { sweepLogged('a periodic check') }, RECONCILE_INTERVAL_MS)
      timer.unref()
    },
    async stop (): Promise<void> {
      clearInterval(timer)
      timer = undefined
      await sweeping
    }
  }
}
