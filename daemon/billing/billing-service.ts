import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { ClassicLevel } from 'classic-level'
import { creditsOf, microOf, type BudgetPeriod } from '../../protocol/billing/credits.js'
import type { BillingSummary, BudgetView, EarningsSummary, SettlementView, StatementResult } from '../../protocol/billing/view.js'
import type { Logger } from '../log.js'
import { spendSummary, earningsSummary, balances } from './billing-views.js'
import { budgets as budgetStore, type Budget, type BudgetState } from './budgets.js'
import { clientMeter } from './client-meter.js'
import { billingLedger, type LedgerRow } from './ledger.js'
import { providerMeter, type MeteredProviderJob } from './provider-meter.js'
import { statementService } from './statement-service.js'

export interface BillingServiceComponents {
  self: string
  privateKey: PrivateKey
  index: Pick<ClassicLevel<string, string>, 'get' | 'put' | 'del' | 'values' | 'keys' | 'batch'>
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections'>
  /** the node's budget from config.json (credits), if any */
  nodeBudget: () => { credits: number, per: BudgetPeriod } | null
  /** metered jobs this node holds as a provider */
  providerJobs: () => Iterable<MeteredProviderJob>
  providerSettings: () => { meteringSeconds: number, voucherGraceSeconds: number }
  log: Logger
}

const budgetView = (scope: 'project' | 'node', name: string, state: BudgetState): BudgetView => ({
  scope, name, limit: creditsOf(state.limit), per: state.per, spent: creditsOf(state.spent), left: creditsOf(state.left)
})

/**
 * Billing, composed: the ledger (ledger.ts), budgets (budgets.ts), the client's meter
 * (client-meter.ts) and the provider's (provider-meter.ts), statements and settlements
 * between peers (statement-service.ts), and the views the API serves.
 */
export function billingService (components: BillingServiceComponents) {
  const { self, privateKey, log } = components
  const ledger = billingLedger(components.index)
  const nodeBudget = (): Budget | null => {
    const budget = components.nodeBudget()
    return budget == null ? null : { limit: microOf(budget.credits), per: budget.per }
  }
  const budgets = budgetStore({ index: components.index, ledger, nodeBudget })
  const client = clientMeter({ self, privateKey, ledger, budgets, log })
  const provider = providerMeter({ self, privateKey, ledger, jobs: components.providerJobs, settings: components.providerSettings, log })
  const statements = statementService({ libp2p: components.libp2p, self, privateKey, ledger, log })

  const rows = async (): Promise<LedgerRow[]> => {
    const all: LedgerRow[] = []
    for await (const row of ledger.rows()) all.push(row)
    return all
  }

  const budgetViews = async (projectId: string, projectName: string): Promise<BudgetView[]> => {
    const state = await budgets.state(projectId)
    return [
      ...(state.project != null ? [budgetView('project', projectName, state.project)] : []),
      ...(state.node != null ? [budgetView('node', 'node', state.node)] : [])
    ]
  }

  return {
    ledger,
    budgets,
    client,
    provider,
    budgetViews,
    async summary (project?: { id: string, name: string }): Promise<BillingSummary> {
      const all = await rows()
      const views = project != null ? await budgetViews(project.id, project.name) : []
      if (project == null) {
        const node = await budgets.state('')
        if (node.node != null) views.push(budgetView('node', 'node', node.node))
      }
      return spendSummary(all, { budgets: views, balances: balances(all, await ledger.settlements(), await ledger.strikes()) }, project?.id)
    },
    async earnings (): Promise<EarningsSummary> {
      return earningsSummary(await rows(), await ledger.strikes())
    },
    async setProjectBudget (projectId: string, credits: number | null, per: BudgetPeriod): Promise<void> {
      await budgets.setProjectBudget(projectId, credits == null ? null : { limit: microOf(credits), per })
    },
    async statement (peer: string): Promise<StatementResult> {
      const result = await statements.exchange(peer)
      return {
        ...result,
        ours: creditsOf(result.ours),
        theirs: creditsOf(result.theirs),
        differing: result.differing.map(d => ({ jobId: d.jobId, ours: d.ours == null ? null : creditsOf(d.ours), theirs: d.theirs == null ? null : creditsOf(d.theirs) }))
      }
    },
    async settle (peer: string): Promise<SettlementView> {
      const settled = await statements.settle(peer)
      return { peer, net: creditsOf(settled.net), jobs: settled.jobs, at: new Date(settled.at).toISOString(), method: settled.method, signedBy: Object.keys(settled.signatures) }
    },
    async start (): Promise<void> {
      await statements.start()
      provider.start()
    },
    async stop (): Promise<void> {
      provider.stop()
      await statements.stop()
    }
  }
}

export type BillingService = ReturnType<typeof billingService>
