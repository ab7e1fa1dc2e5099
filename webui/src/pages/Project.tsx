import { useState, type ReactNode } from 'react'
import { Link, useParams } from 'react-router'
import type { JobView } from '../../../protocol/jobs/view.js'
import { api, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, StatusBadge, useTitle } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { ago, jobDuration, latestMetrics, money, shortPeer } from '../../../protocol/format.js'
import { compareLink } from './Compare.js'
import { shapeOf } from '../job-facts.js'

export function jobLink (job: JobView): string {
  return `/jobs/${encodeURIComponent(job.ref)}`
}

export function Project (): ReactNode {
  const id = useParams().id ?? ''
  const project = useLoad(async signal => await api.call('projectShow', { project: id }, { signal }), [id], 5000)
  const jobs = useLoad(async signal => (await api.call('jobList', { project: id }, { signal })).jobs, [id], 2000)
  const history = useLoad(async signal => await api.call('projectLog', { project: id, limit: 50 }, { signal }), [id], 5000)
  const p = project.data
  // jobs ticked for the compare view
  const [ticked, setTicked] = useState<string[]>([])
  const tick = (ref: string, on: boolean): void => { setTicked(t => on ? [...t, ref] : t.filter(r => r !== ref)) }
  useTitle(`Project ${p?.name ?? id}`)
  // workspace runs are listed on the Workspaces page: their keep-alive command is no job to rerun
  const batch = jobs.data?.filter(j => j.spec.workspace == null)
  const workspaceRuns = (jobs.data?.length ?? 0) - (batch?.length ?? 0)
  return (
    <main id='main'>
      <h1>{p?.name ?? 'Project'}</h1>
      <ErrorBox error={project.error} />
      {p != null && <p className='muted'>id <Mono>{p.id}</Mono> · {p.entries} log entries · {p.heads.length} head{p.heads.length === 1 ? '' : 's'}</p>}
      <div className='actions'><Link className='button primary' to={`/launch?project=${encodeURIComponent(id)}`}>Launch a job</Link></div>

      <h2>Jobs</h2>
      <div className='actions'>
        {ticked.length >= 2
          ? <Link className='button' to={compareLink(ticked)}>Compare {ticked.length} jobs</Link>
          : <span className='muted'>Tick two or more jobs to compare their metrics.</span>}
      </div>
      <ErrorBox error={jobs.error} />
      {workspaceRuns > 0 && <p className='muted'>{workspaceRuns} workspace run{workspaceRuns === 1 ? ' is' : 's are'} not listed here: see <Link to='/workspaces'>Workspaces</Link>.</p>}
      {batch == null
        ? jobs.error == null && <Loading />
        : batch.length === 0
          ? <Empty>No jobs yet. <Link to={`/launch?project=${encodeURIComponent(id)}`}>Launch one</Link>, or run <code>floe run -- COMMAND</code> in a folder linked with <code>floe init</code>.</Empty>
          : <DataTable
              caption='jobs'
              rows={batch}
              rowKey={j => j.jobId}
              initialSort={{ key: 'job', desc: true }}
              columns={[
                { key: 'pick', label: 'Compare', render: j => <input type='checkbox' aria-label={`compare ${j.ref}`} checked={ticked.includes(j.ref)} onChange={e => { tick(j.ref, e.target.checked) }} /> },
                { key: 'job', label: 'Job', render: j => <Link to={jobLink(j)}>{j.ref}</Link>, sort: j => j.number },
                { key: 'created', label: 'Created', render: j => ago(j.createdAt), sort: j => j.createdAt },
                { key: 'status', label: 'Status', render: j => <StatusBadge state={j.state} />, sort: j => j.state },
                { key: 'duration', label: 'Duration', render: j => jobDuration(j), sort: j => j.receipt?.runMs ?? 0 },
                { key: 'provider', label: 'Provider', render: j => j.provider == null ? '–' : <Mono title={j.provider}>{shortPeer(j.provider)}</Mono> },
                { key: 'env', label: 'Env', render: j => j.spec.environment, sort: j => j.spec.environment },
                { key: 'shape', label: 'Shape', render: j => shapeOf(j.spec) },
                { key: 'cost', label: 'Cost', render: j => j.receipt == null ? '–' : money(j.receipt.cost), sort: j => j.receipt?.cost ?? 0 },
                { key: 'message', label: 'Message', render: j => j.message },
                { key: 'metrics', label: 'Metrics', render: j => latestMetrics(j) || '–' }
              ]}
            />}

      <div className='columns'>
        <section>
          <h2>History</h2>
          <ErrorBox error={history.error} />
          {history.data == null
            ? history.error == null && <Loading />
            : <ol className='history'>{history.data.entries.map(e => <li key={e.cid}><time dateTime={e.at}>{ago(e.at)}</time> <Mono title={e.author}>{shortPeer(e.author)}</Mono> {e.summary}</li>)}</ol>}
        </section>
        <section>
          <h2>Members</h2>
          {p != null && (
            <ul className='members'>
              {Object.entries(p.members).sort((a, b) => a[1] - b[1]).map(([peer, slot]) => <li key={peer}><Mono>{peer}</Mono> {slot === 0 ? '(owner)' : `(slot ${slot})`}</li>)}
            </ul>
          )}
          <p className='muted'>The owner adds members with <code>floe project add-member PEER</code>.</p>
        </section>
      </div>
    </main>
  )
}
