import { z } from 'zod'
import { BudgetPeriod } from '../billing/credits.js'
import { BillingSummary, BudgetView, EarningsSummary, SettlementView, StatementResult } from '../billing/view.js'
import { defineRoute } from './route.js'
import { PeerIdString, ProjectRef } from './schemas.js'

const PREFIX = '/api/v1'

/** Billing: spend, earnings, budgets, statements and settlements (daemon/billing). */
export const billingRoutes = {
  billingSummary: defineRoute({
    method: 'GET',
    path: `${PREFIX}/billing`,
    summary: 'spend as a client: by project, provider, day and job; budgets; balances with each peer',
    input: z.object({ project: ProjectRef.optional() }),
    output: BillingSummary
  }),
  billingEarnings: defineRoute({
    method: 'GET',
    path: `${PREFIX}/billing/earnings`,
    summary: 'earnings as a provider: by client, day and job',
    input: z.object({}),
    output: EarningsSummary
  }),
  billingStatement: defineRoute({
    method: 'POST',
    path: `${PREFIX}/billing/statement`,
    summary: "exchange signed ledger statements with a peer: agreed, or the jobs where they differ",
    input: z.object({ peer: PeerIdString }).strict(),
    output: StatementResult
  }),
  billingSettle: defineRoute({
    method: 'POST',
    path: `${PREFIX}/billing/settle`,
    summary: 'record a settlement of the net balance with a peer, signed by both (paid outside floe)',
    input: z.object({ peer: PeerIdString }).strict(),
    output: SettlementView
  }),
  projectBudgetSet: defineRoute({
    method: 'POST',
    path: `${PREFIX}/billing/budget`,
    summary: "set (or, with credits null, remove) a project's budget",
    input: z.object({ project: ProjectRef.optional(), credits: z.number().nonnegative().max(1e9).nullable(), per: BudgetPeriod.default('month') }).strict(),
    output: z.object({ project: z.string(), budget: BudgetView.nullable() })
  }),
  projectBudgetShow: defineRoute({
    method: 'GET',
    path: `${PREFIX}/billing/budget`,
    summary: "a project's budget and the node's, as they stand",
    input: z.object({ project: ProjectRef.optional() }),
    output: z.object({ project: z.string(), budgets: z.array(BudgetView) })
  })
}
