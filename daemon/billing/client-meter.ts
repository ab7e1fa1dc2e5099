import type { PrivateKey } from '@libp2p/interface'
import { costFor, formatCredits, microOf } from '../../protocol/billing/credits.js'
import { DEFAULT_METERING_SECONDS, decodeVoucher, encodeVoucher, intervalSlack, VOUCHER_SIGNING_DOMAIN, type SignedDoc, type Voucher } from '../../protocol/billing/metering.js'
import type { Receipt, SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { Logger } from '../log.js'
import { signRecord } from '../p2p/signing.js'
import type { Budgets } from './budgets.js'
import type { BillingLedger, LedgerRow, RowKey } from './ledger.js'
import { checkStatement, type StatementCheck } from './statement-check.js'

/** The job as the client meters it: its deal and where its spend is counted. */
export interface MeteredClientJob {
  jobId: string
  leaseId: string
  provider: string
  pricePerHour: number
  /** when this client heard the acceptance (ms, its own clock) */
  acceptedAt: number
  projectId: string
  project: string
  ref: string
  /** --max-cost in micro-credits (null: none) */
  maxCost: number | null
}

/** A document refused or a receipt that does not match the vouchers: recorded in the project log with the signed documents. */
export interface BillingDispute {
  provider: string
  kind: 'statement' | 'receipt'
  refusal: string
  message: string
  documents: Array<{ kind: 'statement' | 'voucher' | 'receipt', payload: Uint8Array, signature: Uint8Array }>
}

export interface ClientMeterComponents {
  self: string
  privateKey: PrivateKey
  ledger: BillingLedger
  budgets: Pick<Budgets, 'capFor'>
  log: Logger
}

const bytes = (base64: string): Uint8Array => new Uint8Array(Buffer.from(base64, 'base64'))

/**
 * The client's side of metering: checks each usage statement against the deal
 * (statement-check.ts) and answers it with a voucher for its cost, written to the ledger
 * before it is sent (a promise made is never lost); stops promising at the job's cap
 * (--max-cost, the project's and the node's budgets) and asks the job to stop before the
 * next interval would pass it; answers the receipt with a final voucher for its cost when
 * that is within one interval of the last voucher, else keeps the last and reports a dispute.
 */
export function clientMeter ({ self, privateKey, ledger, budgets, log }: ClientMeterComponents) {
  /** when the last statement of each job's lease was heard (this client's clock; not kept across restarts) */
  const heardAt = new Map<string, number>()
  /** the job's row: this lease with this provider (a job retried elsewhere starts a row of its own) */
  const keyOf = (job: MeteredClientJob): RowKey => ({ jobId: job.jobId, counterparty: job.provider, leaseId: job.leaseId })
  const heard = (job: MeteredClientJob): string => `${job.jobId}!${job.leaseId}`

  const open = async (job: MeteredClientJob): Promise<LedgerRow> => await ledger.open({
    jobId: job.jobId, role: 'client', counterparty: job.provider, leaseId: job.leaseId, pricePerHour: job.pricePerHour,
    projectId: job.projectId, project: job.project, ref: job.ref, startedAt: job.acceptedAt
  })

  /** Signs, records and returns the next voucher of the job. */
  const promise = async (job: MeteredClientJob, row: LedgerRow, amount: number, statementSeq: number, final: boolean): Promise<SignedDoc> => {
    const voucher: Voucher = { version: 1, jobId: job.jobId, leaseId: job.leaseId, provider: job.provider, client: self, seq: row.voucherSeq + 1, amount: Math.max(amount, row.amount), statementSeq, final, at: Date.now() }
    const payload = encodeVoucher(voucher)
    const signed = { payload, signature: await signRecord(privateKey, VOUCHER_SIGNING_DOMAIN, payload) }
    await ledger.applyVoucher(voucher, signed, self)
    return signed
  }

  const lastVoucher = (row: LedgerRow): SignedDoc | null => row.voucher == null ? null : { payload: bytes(row.voucher.payload), signature: bytes(row.voucher.signature) }

  return {
    /**
     * A statement from the job's provider: refused (nothing promised, the refusal recorded
     * against the provider), or answered with a voucher, and `stop` when the job must end
     * at its cap.
     */
    async statement (job: MeteredClientJob, signed: SignedDoc): Promise<{ voucher: SignedDoc | null, stop: string | null, refused: Extract<StatementCheck, { ok: false }> | null, dispute: BillingDispute | null }> {
      const row = await open(job)
      const now = Date.now()
      const check = await checkStatement(signed, {
        client: self,
        provider: job.provider,
        jobId: job.jobId,
        leaseId: job.leaseId,
        acceptedPricePerHour: job.pricePerHour,
        acceptedAt: job.acceptedAt,
        now,
        previous: row.statementSeq === 0 ? null : { seq: row.statementSeq, runningMs: row.statementRunningMs, heardAt: heardAt.get(heard(job)) ?? null }
      })
      if (!check.ok) {
        log.warn({ jobId: job.jobId, provider: job.provider, refusal: check.refusal, reason: check.message }, 'usage statement refused')
        await ledger.strike({ peer: job.provider, jobId: job.jobId, kind: 'statement', refusal: check.refusal, message: check.message, at: now })
        await ledger.update(keyOf(job), r => { r.disputed = `usage statement refused (${check.refusal}): ${check.message}` })
        const voucher = lastVoucher(row)
        return {
          voucher: null,
          stop: `stopped: the provider's usage statement was refused (${check.message})`,
          refused: check,
          dispute: { provider: job.provider, kind: 'statement', refusal: check.refusal, message: check.message, documents: [{ kind: 'statement', ...signed }, ...(voucher != null ? [{ kind: 'voucher' as const, ...voucher }] : [])] }
        }
      }
      // heard again after a reattach: its voucher was made (and its heard time kept) the first time
      if (check.repeated) return { voucher: null, stop: null, refused: null, dispute: null }
      const statement = check.statement
      heardAt.set(heard(job), now)
      const updated = await ledger.update(keyOf(job), r => {
        r.statementSeq = statement.seq
        r.statementRunningMs = statement.runningMs
        r.intervalMs = statement.intervalMs
      }) ?? row
      const { cap, why } = await budgets.capFor({ projectId: job.projectId, amount: updated.amount, maxCost: job.maxCost }, now)
      const amount = cap == null ? statement.cost : Math.min(statement.cost, cap)
      const voucher = await promise(job, updated, amount, statement.seq, false)
      let stop: string | null = null
      if (cap != null && statement.cost + costFor(job.pricePerHour, statement.intervalMs) > cap) {
        stop = `stopped at the budget: ${why} allows ${formatCredits(cap)} credits for this job, and the next ${Math.round(statement.intervalMs / 1000)} s would pass it`
        log.info({ jobId: job.jobId, cap, cost: statement.cost, why }, 'job stopped at its budget')
      }
      return { voucher, stop, refused: null, dispute: null }
    },

    /**
     * The receipt (already checked against the deal): a final voucher for its cost when it
     * is within one interval of the last voucher (capped by the budget), else the last
     * voucher again as final and a dispute. A receipt heard again (a reattach) gets the final
     * voucher already made.
     */
    async receipt (job: MeteredClientJob, receipt: Receipt, signedReceipt: SignedReceipt): Promise<{ voucher: SignedDoc | null, dispute: BillingDispute | null }> {
      const row = await open(job)
      if (row.final) return { voucher: lastVoucher(row), dispute: null }
      const cost = microOf(receipt.cost)
      await ledger.update(keyOf(job), r => { r.receiptCost = cost })
      const slack = intervalSlack(job.pricePerHour, row.intervalMs ?? DEFAULT_METERING_SECONDS * 1000)
      const { cap, why } = await budgets.capFor({ projectId: job.projectId, amount: row.amount, maxCost: job.maxCost })
      const last = lastVoucher(row)
      if (row.disputed != null) {
        // a provider whose statement was refused gets nothing past what was promised before it
        log.info({ jobId: job.jobId, provider: job.provider, promised: row.amount }, 'receipt of a disputed job: the last voucher stands')
        return { voucher: await promise(job, row, row.amount, row.statementSeq, true), dispute: null }
      }
      if (cost > row.amount + slack) {
        const message = `the receipt's cost ${formatCredits(cost)} is more than one interval (${formatCredits(slack)}) past the last voucher's ${formatCredits(row.amount)}: only the voucher counts`
        log.warn({ jobId: job.jobId, provider: job.provider, cost, promised: row.amount }, 'receipt does not match the vouchers; dispute recorded')
        await ledger.update(keyOf(job), r => { r.disputed = message })
        const voucher = await promise(job, row, row.amount, row.statementSeq, true)
        return {
          voucher,
          dispute: { provider: job.provider, kind: 'receipt', refusal: 'voucher', message, documents: [{ kind: 'receipt', ...signedReceipt }, ...(last != null ? [{ kind: 'voucher' as const, ...last }] : [])] }
        }
      }
      // a receipt below the vouchers (statements count from when the job was set running, the receipt from the container's start) keeps the vouchers
      const amount = cap == null ? cost : Math.min(cost, cap)
      if (cap != null && cost > cap) log.info({ jobId: job.jobId, cost, cap, why }, 'receipt past the budget: the final voucher stops at it')
      return { voucher: await promise(job, row, amount, row.statementSeq, true), dispute: null }
    },

    /** The voucher a row holds, decoded (for views). */
    voucherOf: (row: LedgerRow): Voucher | null => row.voucher == null ? null : decodeVoucher(bytes(row.voucher.payload)),
    forget (jobId: string): void { heardAt.delete(jobId) }
  }
}

export type ClientMeter = ReturnType<typeof clientMeter>
