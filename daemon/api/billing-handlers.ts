import type { BillingService } from '../billing/index.js'
import type { ProjectMeta } from '../projects/log-store.js'
import type { ApiHandlers } from './server.js'

export interface BillingHandlerComponents {
  billing: BillingService
  /** the project a ref names; this node's default project without one */
  projectOf: (ref: string | undefined) => Promise<ProjectMeta>
}

type BillingRouteName = 'billingSummary' | 'billingEarnings' | 'billingStatement' | 'billingSettle' | 'projectBudgetSet' | 'projectBudgetShow'

/** The billing routes' operations. */
export function billingHandlers ({ billing, projectOf }: BillingHandlerComponents): Pick<ApiHandlers, BillingRouteName> {
  return {
    billingSummary: async ({ project }) => await billing.summary(project == null ? undefined : await projectOf(project)),
    billingEarnings: async () => await billing.earnings(),
    billingStatement: async ({ peer }) => await billing.statement(peer),
    billingSettle: async ({ peer }) => await billing.settle(peer),
    projectBudgetSet: async ({ project, credits, per }) => {
      const meta = await projectOf(project)
      await billing.setProjectBudget(meta.id, credits, per)
      return { project: meta.name, budget: (await billing.budgetViews(meta.id, meta.name)).find(b => b.scope === 'project') ?? null }
    },
    projectBudgetShow: async ({ project }) => {
      const meta = await projectOf(project)
      return { project: meta.name, budgets: await billing.budgetViews(meta.id, meta.name) }
    }
  }
}
