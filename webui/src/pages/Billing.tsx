import { useState, type FormEvent, type ReactNode } from 'react'
import type { BalanceView, JobSpend, StatementResult } from '../../../protocol/billing/view.js'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { SpendChart } from '../components/SpendChart.js'
import { LiveSpend } from '../components/LiveSpend.js'

const credits = (n: number): string => String(Number(n.toFixed(6)))

/** A balance's row: what this node owes the peer, and a button to compare statements with it. */
function Statement ({ balance }: { balance: BalanceView }): ReactNode {
  const [result, setResult] = useState<StatementResult>()
  const action = useAction()
  return (
    <>
      <button type='button' disabled={action.busy} onClick={() => { void action.run(async () => { setResult(await api.call('billingStatement', { peer: balance.peer })) }) }}>
        {action.busy ? 'Comparing…' : 'Compare statements'}
      </button>
      {result != null && (result.agree
        ? <span className='ok' data-statement='agree'> agree on {result.jobs} job(s)</span>
        : <span className='bad' data-statement='differ'> differ on {result.differing.map(d => d.jobId.slice(0, 8)).join(', ')}</span>)}
      <ErrorBox error={action.error} />
    </>
  )
}

/** Spend (chart by day, budgets, by project and provider, every job), earnings, balances and statements. */
export function Billing (): ReactNode {
  const summary = useLoad(async signal => await api.call('billingSummary', {}, { signal }), [], 5000)
  const earnings = useLoad(async signal => await api.call('billingEarnings', {}, { signal }), [], 5000)
  const [amount, setAmount] = useState('')
  const [per, setPer] = useState<'day' | 'month' | 'total'>('month')
  const setBudget = useAction()
  const budgets = useLoad(async signal => await api.call('projectBudgetShow', {}, { signal }), [setBudget.busy])
  if (summary.data == null) return <main id='main'><h1>Billing</h1>{summary.error != null ? <ErrorBox error={summary.error} /> : <Loading />}</main>
  const s = summary.data
  const submit = (event: FormEvent): void => {
    event.preventDefault()
    void setBudget.run(async () => { await api.call('projectBudgetSet', { credits: amount === '' ? null : Number(amount), per }) })
  }
  return (
    <main id='main'>
      <h1>Billing</h1>
      <p>Spent <strong data-spent={s.spent}>{credits(s.spent)}</strong> credits on {s.jobs.length} metered job(s); earned <strong>{credits(earnings.data?.earned ?? 0)}</strong> as a provider. No payment network is wired in: vouchers are signed promises, settled outside floe.</p>
      {s.byDay.length > 0 ? <SpendChart days={s.byDay} label='spend' /> : <Empty>No spend yet.</Empty>}
      <LiveSpend />
      <h2>Budgets</h2>
      {(budgets.data?.budgets ?? []).length === 0
        ? <p className='muted'>No budget for {budgets.data?.project ?? 'the default project'}, none for the node.</p>
        : <ul>{budgets.data?.budgets.map(b => <li key={b.scope + b.name} data-budget={b.scope}>{b.scope === 'node' ? 'node' : `project ${b.name}`}: {credits(b.left)} of {credits(b.limit)} credits left {b.per === 'total' ? 'in all' : `this ${b.per}`}</li>)}</ul>}
      <form onSubmit={submit} className='row'>
        <label>Default project's budget <input aria-label='budget credits' inputMode='decimal' value={amount} onChange={e => { setAmount(e.target.value) }} placeholder='credits (empty: none)' /></label>
        <select aria-label='budget period' value={per} onChange={e => { setPer(e.target.value as typeof per) }}><option value='day'>per day</option><option value='month'>per month</option><option value='total'>in total</option></select>
        <button type='submit' disabled={setBudget.busy}>Set</button>
      </form>
      <ErrorBox error={setBudget.error} />
      <h2>Spend by project</h2>
      <DataTable rows={s.byProject} rowKey={p => p.project} caption='spend by project' columns={[
        { key: 'project', label: 'Project', render: p => p.project, sort: p => p.project },
        { key: 'jobs', label: 'Jobs', render: p => p.jobs, sort: p => p.jobs },
        { key: 'credits', label: 'Credits', render: p => credits(p.credits), sort: p => p.credits }
      ]} />
      <h2>Spend by provider</h2>
      <DataTable rows={s.byProvider} rowKey={p => p.peer} caption='spend by provider' columns={[
        { key: 'peer', label: 'Provider', render: p => <Mono title={p.peer}>{p.peer.slice(-12)}</Mono>, sort: p => p.peer },
        { key: 'jobs', label: 'Jobs', render: p => p.jobs, sort: p => p.jobs },
        { key: 'credits', label: 'Credits', render: p => credits(p.credits), sort: p => p.credits }
      ]} />
      <h2>Jobs</h2>
      <DataTable<JobSpend> rows={s.jobs} rowKey={j => `${j.jobId}!${j.leaseId}`} caption='spend by job' initialSort={{ key: 'day', desc: true }} columns={[
        { key: 'job', label: 'Job', render: j => j.ref ?? j.jobId.slice(0, 12), sort: j => j.ref ?? j.jobId },
        { key: 'day', label: 'Day', render: j => j.day, sort: j => j.day },
        { key: 'credits', label: 'Credits', render: j => credits(j.credits), sort: j => j.credits },
        { key: 'receipt', label: 'Receipt', render: j => j.receiptCredits == null ? '-' : credits(j.receiptCredits) },
        { key: 'state', label: 'State', render: j => j.disputed != null ? <span className='bad' title={j.disputed}>disputed</span> : j.final ? 'final' : 'running' }
      ]} />
      <h2>Balances and statements</h2>
      {s.balances.length === 0
        ? <Empty>No counterparty yet.</Empty>
        : <DataTable<BalanceView> rows={s.balances} rowKey={b => b.peer} caption='balances' columns={[
          { key: 'peer', label: 'Peer', render: b => <Mono title={b.peer}>{b.peer.slice(-12)}</Mono>, sort: b => b.peer },
          { key: 'owes', label: 'You owe', render: b => credits(b.owes), sort: b => b.owes },
          { key: 'settled', label: 'Settled', render: b => credits(b.settled) },
          { key: 'refused', label: 'Refused documents', render: b => b.refused, sort: b => b.refused },
          { key: 'statement', label: 'Statement', render: b => <Statement balance={b} /> }
        ]} />}
      <h2>Earnings by client</h2>
      {(earnings.data?.byClient ?? []).length === 0
        ? <Empty>No earnings yet.</Empty>
        : <ul>{earnings.data?.byClient.map(c => <li key={c.peer}><Mono title={c.peer}>{c.peer.slice(-12)}</Mono>: {credits(c.credits)} credits, {c.jobs} job(s){c.refused > 0 ? `, ${c.refused} refused` : ''}</li>)}</ul>}
    </main>
  )
}
