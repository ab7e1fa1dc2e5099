import type { ReactNode } from 'react'
import { Link } from 'react-router'
import { isFinal } from '../../../protocol/jobs/job.js'
import { money } from '../../../protocol/format.js'
import { api, useLoad } from '../api.js'
import { ErrorBox } from './common.js'
import { DataTable } from './DataTable.js'
import { costSoFar, isWorkspace } from '../job-facts.js'

/** What the jobs and workspaces running now have cost so far, refreshed every two seconds. */
export function LiveSpend (): ReactNode {
  const running = useLoad(async signal => (await api.call('jobList', {}, { signal })).jobs.filter(j => !isFinal(j.state)), [], 2000)
  const rows = running.data ?? []
  const total = rows.reduce((sum, j) => sum + (costSoFar(j) ?? 0), 0)
  return (
    <section aria-labelledby='live-spend'>
      <h2 id='live-spend'>Running now</h2>
      <ErrorBox error={running.error} />
      {rows.length === 0
        ? <p className='muted'>Nothing is running.</p>
        : (
          <>
            <p><strong data-testid='live-spend'>{money(total)}</strong> credits so far on {rows.length} running job(s) and workspace(s).</p>
            <DataTable caption='running spend' rows={rows} rowKey={j => j.jobId} columns={[
              { key: 'job', label: 'Job', render: j => <Link to={`/${isWorkspace(j) ? 'workspaces' : 'jobs'}/${encodeURIComponent(j.ref)}`}>{j.ref}</Link>, sort: j => j.ref },
              { key: 'kind', label: 'Kind', render: j => isWorkspace(j) ? 'workspace' : 'job' },
              { key: 'price', label: 'Price /h', render: j => j.pricePerHour == null ? '–' : money(j.pricePerHour), sort: j => j.pricePerHour ?? 0 },
              { key: 'cost', label: 'So far', render: j => { const c = costSoFar(j); return c == null ? '–' : money(c) }, sort: j => costSoFar(j) ?? 0 }
            ]} />
          </>
          )}
    </section>
  )
}
