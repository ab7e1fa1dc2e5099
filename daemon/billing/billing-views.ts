import { creditsOf, dayOf } from '../../protocol/billing/credits.js'
import type { BalanceView, BillingSummary, EarningsSummary, JobSpend } from '../../protocol/billing/view.js'
import type { LedgerRow, SettlementRecord, Strike } from './ledger.js'

/** Sums in micro-credits by key, shown in credits, largest first. */
function grouped<K extends string> (rows: LedgerRow[], key: (row: LedgerRow) => K): Array<{ key: K, micro: number, jobs: number }> {
  const sums = new Map<K, { micro: number, jobs: number }>()
  for (const row of rows) {
    const k = key(row)
    const held = sums.get(k) ?? { micro: 0, jobs: 0 }
    held.micro += row.amount
    held.jobs++
    sums.set(k, held)
  }
  return [...sums.entries()].map(([k, v]) => ({ key: k, ...v })).sort((a, b) => b.micro - a.micro || a.key.localeCompare(b.key))
}

const byDay = (rows: LedgerRow[]): Array<{ day: string, credits: number }> =>
  grouped(rows, row => dayOf(row.startedAt)).map(g => ({ day: g.key, credits: creditsOf(g.micro) })).sort((a, b) => a.day.localeCompare(b.day))

function jobSpend (row: LedgerRow): JobSpend {
  return {
    jobId: row.jobId, leaseId: row.leaseId, ref: row.ref, project: row.project, peer: row.counterparty, day: dayOf(row.startedAt), credits: creditsOf(row.amount),
    pricePerHour: row.pricePerHour, final: row.final, receiptCredits: row.receiptCost == null ? null : creditsOf(row.receiptCost), disputed: row.disputed
  }
}

/** Each counterparty's net balance: what this node owes it (its client jobs less its provider jobs), less what was settled. */
export function balances (rows: LedgerRow[], settlements: SettlementRecord[], strikes: Strike[]): BalanceView[] {
  const peers = new Set([...rows.map(r => r.counterparty), ...settlements.map(s => s.counterparty)])
  return [...peers].sort().map(peer => {
    const mine = rows.filter(r => r.counterparty === peer)
    const gross = mine.reduce((sum, r) => sum + (r.role === 'client' ? r.amount : -r.amount), 0)
    const settled = settlements.filter(s => s.counterparty === peer).reduce((sum, s) => sum + s.net, 0)
    return { peer, owes: creditsOf(gross - settled), jobs: mine.length, settled: creditsOf(settled), refused: strikes.filter(s => s.peer === peer).length }
  })
}

/** What this node spent as a client, grouped the ways `floe billing` shows it. */
export function spendSummary (all: LedgerRow[], extra: Pick<BillingSummary, 'budgets' | 'balances'>, projectId?: string): BillingSummary {
  const rows = all.filter(r => r.role === 'client' && (projectId == null || r.projectId === projectId))
  return {
    spent: creditsOf(rows.reduce((sum, r) => sum + r.amount, 0)),
    byProject: grouped(rows, r => r.project ?? '(unknown)').map(g => ({ project: g.key, projectId: rows.find(r => (r.project ?? '(unknown)') === g.key)?.projectId ?? null, credits: creditsOf(g.micro), jobs: g.jobs })),
    byProvider: grouped(rows, r => r.counterparty).map(g => ({ peer: g.key, credits: creditsOf(g.micro), jobs: g.jobs })),
    byDay: byDay(rows),
    jobs: rows.sort((a, b) => b.startedAt - a.startedAt).map(jobSpend),
    ...extra
  }
}

/** What this node earned as a provider, by client and day. */
export function earningsSummary (all: LedgerRow[], strikes: Strike[]): EarningsSummary {
  const rows = all.filter(r => r.role === 'provider')
  return {
    earned: creditsOf(rows.reduce((sum, r) => sum + r.amount, 0)),
    byClient: grouped(rows, r => r.counterparty).map(g => ({ peer: g.key, credits: creditsOf(g.micro), jobs: g.jobs, refused: strikes.filter(s => s.peer === g.key).length })),
    byDay: byDay(rows),
    jobs: rows.sort((a, b) => b.startedAt - a.startedAt).map(jobSpend)
  }
}
