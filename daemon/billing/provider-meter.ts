import type { PrivateKey } from '@libp2p/interface'
import { costFor, formatCredits } from '../../protocol/billing/credits.js'
import { encodeStatement, MAX_METERING_MS, MIN_METERING_MS, USAGE_SIGNING_DOMAIN, type SignedDoc, type UsageStatement } from '../../protocol/billing/metering.js'
import type { Logger } from '../log.js'
import { signRecord } from '../p2p/signing.js'
import type { BillingLedger, RowKey } from './ledger.js'
import { checkVoucher, type VoucherCheck } from './voucher-check.js'

/** A metered job as its provider holds it (daemon/provider/metered-job.ts makes one from a live job). */
export interface MeteredProviderJob {
  jobId: string
  leaseId: string
  client: string
  pricePerHour: number
  cpus: number
  memoryGiB: number
  gpus: number
  /**
   * when its container started (ms, as the engine stamped it: the receipt's runningAt) and
   * a time it was seen running, asked of the engine now; null when it is not running (not
   * yet, or exited: a statement never covers time after the exit)
   */
  started(): Promise<{ since: number, seenAt: number } | null>
  /** hands a statement to the job's followers (sent as `usage`) */
  publish(signed: SignedDoc): void
  /** freezes or thaws its container; a line in its log says why */
  pause(why: string): Promise<void>
  resume(why: string): Promise<void>
  /** ends it, with the reason its receipt gives */
  stop(reason: string): void
}

export interface ProviderMeterComponents {
  self: string
  privateKey: PrivateKey
  ledger: BillingLedger
  /** the metered jobs held now */
  jobs: () => Iterable<MeteredProviderJob>
  settings: () => { meteringSeconds: number, voucherGraceSeconds: number }
  log: Logger
}

/** How often the meter looks at its jobs: statements go out within this of their due time. */
const TICK_MS = 250

/** The job's row: this lease with this client. */
const keyOf = (job: Pick<MeteredProviderJob, 'jobId' | 'leaseId' | 'client'>): RowKey => ({ jobId: job.jobId, counterparty: job.client, leaseId: job.leaseId })
/** The meter's state of a job, per lease (a job the client gives this provider again is a new lease). */
const leaseOf = (job: Pick<MeteredProviderJob, 'jobId' | 'leaseId'>): string => `${job.jobId}!${job.leaseId}`

/**
 * The provider's side of metering: every interval, each running metered job gets a signed
 * usage statement (its seq written to the ledger before it is sent, so a restart never
 * repeats one); vouchers from the job's client are checked (voucher-check.ts) and counted
 * in the ledger. A job whose vouchers lapse — none for the interval plus the grace — is
 * paused, and stopped after the grace once more; the provider keeps what it was promised.
 * A voucher arriving while paused lets the job run on.
 */
export function providerMeter ({ self, privateKey, ledger, jobs, settings, log }: ProviderMeterComponents) {
  const state = new Map<string, { lastStatementAt: number, lastVoucherAt: number, paused: boolean, stopped: boolean }>()
  let timer: NodeJS.Timeout | undefined
  let ticking = false

  const intervalMs = (): number => Math.min(MAX_METERING_MS, Math.max(MIN_METERING_MS, settings().meteringSeconds * 1000))

  const statementFor = async (job: MeteredProviderJob, since: number, now: number): Promise<void> => {
    const row = await ledger.open({ jobId: job.jobId, role: 'provider', counterparty: job.client, leaseId: job.leaseId, pricePerHour: job.pricePerHour, startedAt: since })
    const runningMs = Math.max(0, now - since)
    const statement: UsageStatement = {
      version: 1,
      jobId: job.jobId,
      leaseId: job.leaseId,
      provider: self,
      client: job.client,
      seq: row.statementSeq + 1,
      intervalMs: intervalMs(),
      runningMs,
      cpuSeconds: job.cpus * runningMs / 1000,
      memoryGiBSeconds: job.memoryGiB * runningMs / 1000,
      gpuSeconds: job.gpus * runningMs / 1000,
      pricePerHour: job.pricePerHour,
      cost: costFor(job.pricePerHour, runningMs),
      at: now
    }
    await ledger.update(keyOf(job), r => {
      r.statementSeq = statement.seq
      r.statementRunningMs = runningMs
      r.intervalMs = statement.intervalMs
    })
    const payload = encodeStatement(statement)
    job.publish({ payload, signature: await signRecord(privateKey, USAGE_SIGNING_DOMAIN, payload) })
  }

  const tick = async (): Promise<void> => {
    const now = Date.now()
    const every = intervalMs()
    const graceMs = settings().voucherGraceSeconds * 1000
    const seen = new Set<string>()
    const started = async (job: MeteredProviderJob) => await job.started().catch((err: Error) => { log.debug({ jobId: job.jobId, err: err.message }, 'could not ask the engine about the container'); return null })
    for (const job of jobs()) {
      seen.add(leaseOf(job))
      let s = state.get(leaseOf(job))
      if (s == null) {
        const running = await started(job)
        if (running == null) continue
        // after a restart the grace starts again: the client could not reach a stopped provider
        s = { lastStatementAt: 0, lastVoucherAt: Math.max(running.since, now - every), paused: false, stopped: false }
        state.set(leaseOf(job), s)
      }
      if (s.stopped) continue
      if (now - s.lastStatementAt >= every && !s.paused) {
        // asked of the engine when the statement is made: running time up to a moment it was seen running
        const running = await started(job)
        if (running != null) {
          s.lastStatementAt = now
          await statementFor(job, running.since, running.seenAt)
        }
      }
      const silent = now - s.lastVoucherAt
      if (silent > every + 2 * graceMs) {
        s.stopped = true
        const promised = (await ledger.get(keyOf(job)))?.amount ?? 0
        log.warn({ jobId: job.jobId, client: job.client, silentMs: silent, promised }, 'vouchers lapsed: stopping the job')
        job.stop(`stopped: the client's vouchers lapsed (none for ${Math.round(silent / 1000)} s); the ${formatCredits(promised)} credits promised are kept`)
      } else if (silent > every + graceMs && !s.paused) {
        s.paused = true
        log.warn({ jobId: job.jobId, client: job.client, silentMs: silent }, 'vouchers lapsed: pausing the job')
        await job.pause(`paused: no voucher from the client for ${Math.round(silent / 1000)} s; stopped if none comes within ${Math.round(graceMs / 1000)} s`).catch((err: Error) => { log.warn({ jobId: job.jobId, err: err.message }, 'could not pause the job') })
      }
    }
    for (const lease of state.keys()) if (!seen.has(lease)) state.delete(lease)
  }

  return {
    /**
     * A voucher from the client of a job held here: counted when it checks out (true: it is
     * final, the client's answer to the receipt); refused and counted against the client
     * when not, with the ledger unchanged.
     */
    async voucher (job: Pick<MeteredProviderJob, 'jobId' | 'leaseId' | 'client'> & { resume?: MeteredProviderJob['resume'] }, signed: SignedDoc): Promise<VoucherCheck> {
      const row = await ledger.get(keyOf(job))
      const check = await checkVoucher(signed, { provider: self, client: job.client, jobId: job.jobId, leaseId: job.leaseId, last: row == null || row.voucherSeq === 0 ? null : { seq: row.voucherSeq, amount: row.amount } })
      if (!check.ok) {
        log.warn({ jobId: job.jobId, client: job.client, refusal: check.refusal, reason: check.message }, 'voucher refused')
        await ledger.strike({ peer: job.client, jobId: job.jobId, kind: 'voucher', refusal: check.refusal, message: check.message, at: Date.now() })
        return check
      }
      if (row == null) await ledger.open({ jobId: job.jobId, role: 'provider', counterparty: job.client, leaseId: job.leaseId, pricePerHour: 0 })
      await ledger.applyVoucher(check.voucher, signed, self)
      const s = state.get(leaseOf(job))
      if (s != null) {
        s.lastVoucherAt = Date.now()
        if (s.paused && !s.stopped) {
          s.paused = false
          await job.resume?.('resumed: the client\'s vouchers came again').catch((err: Error) => { log.warn({ jobId: job.jobId, err: err.message }, 'could not resume the job') })
        }
      }
      return check
    },
    start (): void {
      if (timer != null) return
      timer = setInterval(() => {
        if (ticking) return
        ticking = true
        tick().catch((err: Error) => { log.warn({ err: err.message }, 'metering failed') }).finally(() => { ticking = false })
      }, TICK_MS)
      timer.unref()
    },
    stop (): void {
      clearInterval(timer)
      timer = undefined
    }
  }
}

export type ProviderMeter = ReturnType<typeof providerMeter>
