import type { ClassicLevel } from 'classic-level'
import { periodStart, type BudgetPeriod } from '../../protocol/billing/credits.js'
import type { BillingLedger, LedgerRow } from './ledger.js'

/** A spending limit: micro-credits per period. */
export interface Budget {
  limit: number
  per: BudgetPeriod
}

/** A budget as it stands now: what it allows, what was spent in its period, what is left. */
export interface BudgetState extends Budget {
  spent: number
  left: number
}

type Index = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'del'>

const BUDGET = 'billing-budget!'

export interface BudgetComponents {
  index: Index
  ledger: Pick<BillingLedger, 'rows'>
  /** the node's own budget from config.json (`billing.budget`), if any */
  nodeBudget: () => Budget | null
}

/**
 * Budgets on what this node promises as a client: one per project (kept in the index, set
 * with `floe project budget set`) and one for the node (config.json). What was spent in a
 * period is the sum of the vouchers of jobs opened in it (ledger.ts): a job's promises count
 * against the period it started in.
 */
export function budgets ({ index, ledger, nodeBudget }: BudgetComponents) {
  const spentSince = async (since: number, projectId: string | null): Promise<number> => {
    let sum = 0
    for await (const row of ledger.rows()) {
      if (row.role !== 'client' || row.startedAt < since) continue
      if (projectId != null && row.projectId !== projectId) continue
      sum += row.amount
    }
    return sum
  }
  const stateOf = async (budget: Budget | null, projectId: string | null, now: number): Promise<BudgetState | null> => {
    if (budget == null) return null
    const spent = await spentSince(periodStart(budget.per, now), projectId)
    return { ...budget, spent, left: Math.max(0, budget.limit - spent) }
  }
  const projectBudget = async (projectId: string): Promise<Budget | null> => {
    const value = await index.get(BUDGET + projectId)
    return value == null ? null : JSON.parse(value) as Budget
  }

  return {
    projectBudget,
    async setProjectBudget (projectId: string, budget: Budget | null): Promise<void> {
      if (budget == null) await index.del(BUDGET + projectId, { sync: true })
      else await index.put(BUDGET + projectId, JSON.stringify(budget), { sync: true })
    },
    /** The project's and the node's budgets as they stand (null: none set). */
    async state (projectId: string, now = Date.now()): Promise<{ project: BudgetState | null, node: BudgetState | null }> {
      return { project: await stateOf(await projectBudget(projectId), projectId, now), node: await stateOf(nodeBudget(), null, now) }
    },
    /**
     * The most a job may be promised in all: its --max-cost, and what its project's and the
     * node's budgets leave (plus what the job holds already, which they count as spent).
     * null: no limit.
     */
    async capFor (job: Pick<LedgerRow, 'projectId' | 'amount'> & { maxCost: number | null }, now = Date.now()): Promise<{ cap: number | null, why: string | null }> {
      let cap: number | null = job.maxCost
      let why: string | null = job.maxCost != null ? '--max-cost' : null
      const { project, node } = job.projectId == null ? { project: null, node: await stateOf(nodeBudget(), null, now) } : await this.state(job.projectId, now)
      for (const [state, name] of [[project, 'the project budget'], [node, "the node's budget"]] as const) {
        if (state == null) continue
        const mine = state.left + job.amount
        if (cap == null || mine < cap) {
          cap = mine
          why = name
        }
      }
      return { cap, why }
    }
  }
}

export type Budgets = ReturnType<typeof budgets>
