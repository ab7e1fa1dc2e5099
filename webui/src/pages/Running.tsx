import type { ReactNode } from 'react'
import { Link } from 'react-router'
import { isFinal } from '../../../protocol/jobs/job.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { jobDuration, latestMetrics, money, shortPeer } from '../../../protocol/format.js'
import { api, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, StatusBadge } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { costSoFar, isWorkspace, shapeOf } from '../job-facts.js'

const pageOf = (job: JobView): string => isWorkspace(job) ? `/workspaces/${encodeURIComponent(job.ref)}` : `/jobs/${encodeURIComponent(job.ref)}`

/** Every job and workspace not yet ended, across all projects, with what each costs so far. */
export function Running (): ReactNode {
  const jobs = useLoad(async signal => (await api.call('jobList', {}, { signal })).jobs.filter(j => !isFinal(j.state)), [], 2000)
  const rows = jobs.data ?? []
  const total = rows.reduce((sum, j) => sum + (costSoFar(j) ?? 0), 0)
  return (
    <main id='main'>
      <h1>Running now</h1>
      <ErrorBox error={jobs.error} />
      {jobs.data == null
        ? jobs.error == null && <Loading />
        : rows.length === 0
          ? <Empty>Nothing is running. <Link to='/launch'>Launch a job</Link> or start a workspace.</Empty>
          : (
            <>
              <p>{rows.length} running · <strong data-testid='running-cost'>{money(total)}</strong> credits so far</p>
              <DataTable
                caption='running jobs and workspaces'
                rows={rows}
                rowKey={j => j.jobId}
                initialSort={{ key: 'project' }}
                columns={[
                  { key: 'job', label: 'Job', render: j => <Link to={pageOf(j)}>{j.ref}</Link>, sort: j => j.ref },
                  { key: 'kind', label: 'Kind', render: j => isWorkspace(j) ? 'workspace' : 'job', sort: j => isWorkspace(j) ? 1 : 0 },
                  { key: 'project', label: 'Project', render: j => j.project, sort: j => j.project },
                  { key: 'status', label: 'Status', render: j => <StatusBadge state={j.state} />, sort: j => j.state },
                  { key: 'duration', label: 'Running for', render: j => jobDuration(j) },
                  { key: 'shape', label: 'Shape', render: j => shapeOf(j.spec) },
                  { key: 'provider', label: 'Provider', render: j => j.provider == null ? '–' : <Mono title={j.provider}>{shortPeer(j.provider)}</Mono> },
                  { key: 'cost', label: 'Cost so far', render: j => { const c = costSoFar(j); return c == null ? '–' : money(c) }, sort: j => costSoFar(j) ?? 0 },
                  { key: 'metrics', label: 'Metrics', render: j => latestMetrics(j) }
                ]}
              />
            </>
            )}
    </main>
  )
}
