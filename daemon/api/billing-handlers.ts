import type { BillingService } from '../billing/index.js'
import type { ProjectMeta } from '../projects/log-store.js'
import type { ApiHandlers } from './server.js'

export interface BillingHandlerComponents {
  billing: BillingService
  /** the project a ref names; this node's default project without one */
  projectOf: (ref: string | undefined) => Promise<ProjectMeta>
  /** the same for reads, which never make the default project: undefined when it does not exist yet */
  existingProject: (ref: string | undefined) => Promise<ProjectMeta | undefined>
}

type BillingRouteName = 'billingSummary' | 'billingEarnings' | 'billingStatement' | 'billingSettle' | 'projectBudgetSet' | 'projectBudgetShow'

/** The billing routes' operations. */
export function billingHandlers ({ billing, projectOf, existingProject }: BillingHandlerComponents): Pick<ApiHandlers, BillingRouteName> {
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
      const meta = await existingProject(project)
      // no project yet: only the node's budget can stand
      if (meta == null) return { project: '', budgets: await billing.budgetViews('', '') }
      return { project: meta.name, budgets: await billing.budgetViews(meta.id, meta.name) }
    }
  }
}
