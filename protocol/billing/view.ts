import { z } from 'zod'
import { BudgetPeriod } from './credits.js'

/** Amounts in views are credits as decimal numbers (exact to 6 places); sums were made in micro-credits. */
const Credits = z.number()

export const BudgetView = z.object({
  scope: z.enum(['project', 'node']),
  /** the project (`owner/name`), or `node` */
  name: z.string(),
  limit: Credits,
  per: BudgetPeriod,
  spent: Credits,
  left: Credits
})
export type BudgetView = z.infer<typeof BudgetView>

export const JobSpend = z.object({
  jobId: z.string(),
  /** the lease: a job retried on another provider (or the same one again) has a line per lease */
  leaseId: z.string(),
  ref: z.string().nullable(),
  project: z.string().nullable(),
  /** the counterparty: the provider (spend) or the client (earnings) */
  peer: z.string(),
  day: z.string(),
  credits: Credits,
  pricePerHour: z.number(),
  /** the client answered the receipt: the amount is settled for the job */
  final: z.boolean(),
  /** what the receipt stated, when there was one */
  receiptCredits: Credits.nullable(),
  disputed: z.string().nullable()
})
export type JobSpend = z.infer<typeof JobSpend>

export const BalanceView = z.object({
  peer: z.string(),
  /** credits this node owes the peer net of settlements (negative: the peer owes it) */
  owes: Credits,
  jobs: z.number().int(),
  settled: Credits,
  /** documents refused from the peer (statements, vouchers) */
  refused: z.number().int()
})
export type BalanceView = z.infer<typeof BalanceView>

/** `floe billing --json`: what this node spent as a client. */
export const BillingSummary = z.object({
  spent: Credits,
  byProject: z.array(z.object({ project: z.string(), projectId: z.string().nullable(), credits: Credits, jobs: z.number().int() })),
  byProvider: z.array(z.object({ peer: z.string(), credits: Credits, jobs: z.number().int() })),
  byDay: z.array(z.object({ day: z.string(), credits: Credits })),
  jobs: z.array(JobSpend),
  budgets: z.array(BudgetView),
  balances: z.array(BalanceView)
})
export type BillingSummary = z.infer<typeof BillingSummary>

/** `floe provider earnings --json`: what this node earned as a provider. */
export const EarningsSummary = z.object({
  earned: Credits,
  byClient: z.array(z.object({ peer: z.string(), credits: Credits, jobs: z.number().int(), refused: z.number().int() })),
  byDay: z.array(z.object({ day: z.string(), credits: Credits })),
  jobs: z.array(JobSpend)
})
export type EarningsSummary = z.infer<typeof EarningsSummary>

/** `floe billing statement PEER --json`: the two statements compared. */
export const StatementResult = z.object({
  peer: z.string(),
  agree: z.boolean(),
  jobs: z.number().int(),
  /** credits this node owes the peer net (negative: owed to it), by this node's count and by the peer's */
  ours: Credits,
  theirs: Credits,
  differing: z.array(z.object({ jobId: z.string(), ours: Credits.nullable(), theirs: Credits.nullable() }))
})
export type StatementResult = z.infer<typeof StatementResult>

export const SettlementView = z.object({
  peer: z.string(),
  /** credits this node paid the peer outside floe (negative: it was paid) */
  net: Credits,
  jobs: z.number().int(),
  at: z.string(),
  method: z.string(),
  signedBy: z.array(z.string())
})
export type SettlementView = z.infer<typeof SettlementView>
