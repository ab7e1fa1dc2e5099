import { useState, type ReactNode } from 'react'
import { Link, useSearchParams } from 'react-router'
import type { MetricPoint } from '../../../protocol/jobs/metrics.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { JobState } from '../../../protocol/jobs/job.js'
import { api, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, StatusBadge } from '../components/common.js'
import { CompareChart, SERIES_COLOURS } from '../components/CompareChart.js'
import { DataTable, type Column } from '../components/DataTable.js'
import { displayCommand, jobDuration } from '../../../protocol/format.js'
import { shapeOf } from '../job-facts.js'

interface Compared { job: JobView, series: Record<string, MetricPoint[]> }

/** The most jobs one comparison loads (each is two API calls and a series per chart). */
export const MAX_COMPARED = 12

export const compareLink = (refs: string[]): string => `/compare?${new URLSearchParams({ jobs: refs.join(',') }).toString()}`

/** Several jobs side by side: their metrics overlaid on shared charts, and a table with a column per metric. */
export function Compare (): ReactNode {
  const [params] = useSearchParams()
  const refs = [...new Set((params.get('jobs') ?? '').split(',').map(r => r.trim()).filter(Boolean))].slice(0, MAX_COMPARED)
  const key = refs.join(',')
  const [weight, setWeight] = useState(0)
  const [log, setLog] = useState(false)
  const [status, setStatus] = useState('')
  const loaded = useLoad(async signal => await Promise.all(refs.map(async ref => {
    const [job, metrics] = await Promise.all([api.call('jobShow', { ref }, { signal }), api.call('jobMetrics', { ref }, { signal })])
    return { job, series: metrics.series } satisfies Compared
  })), [key], 5000)

  if (refs.length === 0) {
    return <main id='main'><h1>Compare runs</h1><Empty>No jobs chosen. Tick the jobs to compare in a project's job table, then choose “Compare”.</Empty></main>
  }
  const all = loaded.data ?? []
  const rows = all.filter(c => status === '' || c.job.state === status)
  const colourOf = (c: Compared): string => SERIES_COLOURS[all.indexOf(c) % SERIES_COLOURS.length] ?? '#000'
  const metricNames = [...new Set(all.flatMap(c => Object.keys(c.series)))].sort()
  const metricColumns: Array<Column<Compared>> = metricNames.map(name => ({
    key: `metric:${name}`,
    label: name,
    render: c => { const v = c.series[name]?.at(-1)?.value; return v == null ? '–' : Number(v.toPrecision(6)) },
    // a job without the metric sorts after every value (ascending)
    sort: c => c.series[name]?.at(-1)?.value ?? Number.POSITIVE_INFINITY
  }))
  return (
    <main id='main'>
      <h1>Compare runs</h1>
      <ErrorBox error={loaded.error} />
      <form className='inline compare-controls' aria-label='chart settings' onSubmit={e => { e.preventDefault() }}>
        <label htmlFor='compare-smoothing'>Smoothing</label>
        <input id='compare-smoothing' type='range' min='0' max='0.99' step='0.01' value={weight} onChange={e => { setWeight(Number(e.target.value)) }} aria-valuetext={String(weight)} />
        <output htmlFor='compare-smoothing'>{weight.toFixed(2)}</output>
        <label><input type='checkbox' checked={log} onChange={e => { setLog(e.target.checked) }} /> Log scale</label>
        <label htmlFor='compare-status'>Status</label>
        <select id='compare-status' value={status} onChange={e => { setStatus(e.target.value) }}>
          <option value=''>any</option>
          {JobState.options.map(s => <option key={s} value={s}>{s}</option>)}
        </select>
      </form>
      {loaded.data == null
        ? loaded.error == null && <Loading />
        : (
          <>
            <DataTable<Compared>
              caption='compared jobs'
              rows={rows}
              rowKey={c => c.job.ref}
              columns={[
                { key: 'job', label: 'Job', render: c => <><span className='swatch' style={{ background: colourOf(c) }} aria-hidden='true' /><Link to={`/jobs/${encodeURIComponent(c.job.ref)}`}>{c.job.ref}</Link></>, sort: c => c.job.number },
                { key: 'status', label: 'Status', render: c => <StatusBadge state={c.job.state} />, sort: c => c.job.state },
                ...metricColumns,
                { key: 'duration', label: 'Duration', render: c => jobDuration(c.job), sort: c => c.job.receipt?.runMs ?? 0 },
                { key: 'command', label: 'Command', render: c => <code className='cmd' title={displayCommand(c.job.spec.command)}>{displayCommand(c.job.spec.command)}</code> },
                { key: 'env', label: 'Env', render: c => c.job.spec.environment, sort: c => c.job.spec.environment },
                { key: 'shape', label: 'Shape', render: c => shapeOf(c.job.spec) },
                { key: 'inputs', label: 'Inputs', render: c => c.job.inputs.length === 0 ? '–' : c.job.inputs.map(i => `${i.ref} → ${i.mount}`).join(', ') },
                { key: 'message', label: 'Message', render: c => c.job.message }
              ]}
            />
            {metricNames.length === 0
              ? <Empty>None of these jobs printed a metric line (<Mono>{'{"metric": "loss", "value": 0.3, "step": 10}'}</Mono>).</Empty>
              : <div className='compare-charts'>{metricNames.map(name => (
                <CompareChart key={name} name={name} weight={weight} log={log} series={rows.map(c => ({ label: c.job.ref, colour: colourOf(c), points: c.series[name] ?? [] }))} />
              ))}</div>}
          </>
          )}
    </main>
  )
}
