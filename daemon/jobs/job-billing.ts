import { costFor, creditsOf, formatCredits, microOf } from '../../protocol/billing/credits.js'
import type { Receipt, SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { Requirements } from '../../protocol/market/requirements.js'
import type { Budgets } from '../billing/budgets.js'
import type { BillingDispute, ClientMeter, MeteredClientJob } from '../billing/client-meter.js'
import { BudgetExceededError } from '../billing/errors.js'
import type { Logger } from '../log.js'
import type { MatchResult } from '../market/match.js'
import type { ProjectLog } from '../projects/project-log.js'
import type { RunnerBilling } from './job-runner.js'
import type { RunRequest } from './job-submit.js'
import type { JobRecord } from './records.js'

export interface JobBillingComponents {
  billing: { meter: ClientMeter, budgets: Pick<Budgets, 'capFor'> }
  projects: Pick<ProjectLog, 'write'>
  match: (requirements: Requirements, options: { reliability: (peer: string) => number | undefined }) => MatchResult
  reliability: (peer: string) => number | undefined
  log: Logger
}

/**
 * Where jobs meet billing on the client side: the runner's metering (a job record as the
 * meter sees it), disputes written to the project log with their signed documents, and the
 * budget check at submit — a job whose worst case (the price it would go at × its time
 * limit) passes what --max-cost, the project's and the node's budgets leave is refused
 * unless --allow-partial, which runs it until they are used.
 */
export function jobBilling ({ billing, projects, match, reliability, log }: JobBillingComponents) {
  const meterJob = (record: JobRecord): MeteredClientJob => {
    const accepted = record.attempts.findLast(a => a.provider === record.provider && a.outcome === 'accepted')
    return {
      jobId: record.jobId,
      leaseId: record.leaseId ?? '',
      provider: record.provider as string,
      pricePerHour: record.pricePerHour ?? 0,
      acceptedAt: accepted != null ? Date.parse(accepted.at) : Date.now(),
      projectId: record.projectId,
      project: record.project,
      ref: record.ref,
      maxCost: record.maxCost == null ? null : microOf(record.maxCost)
    }
  }

  const dispute = async (record: JobRecord, found: BillingDispute): Promise<void> => {
    try {
      await projects.write(record.projectId, 'job.disputed', {
        job: record.jobId, provider: found.provider, kind: found.kind, refusal: found.refusal, reason: found.message, documents: found.documents
      })
    } catch (err: any) {
      log.warn({ jobId: record.jobId, err: err?.message }, 'could not record the billing dispute in the project log')
    }
  }

  const runner: RunnerBilling = {
    async statement (record, signed) {
      const answer = await billing.meter.statement(meterJob(record), signed)
      if (answer.dispute != null) await dispute(record, answer.dispute)
      return { voucher: answer.voucher, stop: answer.stop, dispute: answer.refused == null ? null : { refusal: answer.refused.refusal, message: answer.refused.message } }
    },
    async receipt (record: JobRecord, receipt: Receipt, signed: SignedReceipt) {
      const answer = await billing.meter.receipt(meterJob(record), receipt, signed)
      if (answer.dispute != null) await dispute(record, answer.dispute)
      return { voucher: answer.voucher }
    }
  }

  return {
    ...runner,
    /** Refuses a job its budgets cannot cover in the worst case (BudgetExceededError), unless it allows a partial run. */
    async admit (request: RunRequest & { maxCost?: number, allowPartial?: boolean }, projectId: string): Promise<void> {
      const maxCost = request.maxCost == null ? null : microOf(request.maxCost)
      const { cap, why } = await billing.budgets.capFor({ projectId, amount: 0, maxCost })
      if (cap == null || request.allowPartial === true) return
      const timeoutSeconds = request.timeoutSeconds ?? 3600
      let price = request.maxPricePerHour
      if (price == null) {
        const ranked = match({ ...request.requirements, environment: request.environment ?? 'busybox', maxSeconds: timeoutSeconds } as Requirements, { reliability }).ranked
        const chosen = request.provider != null ? ranked.find(r => r.peerId === request.provider) : ranked[0]
        price = chosen?.costPerHour
      }
      // no offer fits: the submission says so; nothing to weigh against the budget
      if (price == null) return
      const worst = costFor(price, timeoutSeconds * 1000)
      if (worst > cap) {
        throw new BudgetExceededError(`the job could cost up to ${formatCredits(worst)} credits (${price}/h for its ${timeoutSeconds} s time limit), but ${why} leaves ${formatCredits(cap)}: raise the budget, lower --timeout or --max-price, or pass --allow-partial to run it until the budget is used`)
      }
    },
    /** what a job's record shows of its billing: the most it may cost, in credits */
    maxCostOf: (record: JobRecord): number | null => record.maxCost ?? null,
    creditsOf
  }
}

export type JobBilling = ReturnType<typeof jobBilling>
