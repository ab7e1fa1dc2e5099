import { useEffect, useState, type ReactNode } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { isFinal, type LogLine } from '../../../protocol/jobs/job.js'
import { parseMetricLine, type MetricPoint } from '../../../protocol/jobs/metrics.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { api, useAction, useLoad } from '../api.js'
import { ErrorBox, Loading, Mono, StatusBadge } from '../components/common.js'
import { CodeSnapshot } from '../components/CodeSnapshot.js'
import { ContentBrowser } from '../components/ContentBrowser.js'
import { InputList } from '../components/JobForm.js'
import { LogView } from '../components/LogView.js'
import { MetricChart } from '../components/MetricChart.js'
import { SystemCharts } from '../components/SystemCharts.js'
import { displayCommand, jobDuration, money } from '../../../protocol/format.js'
import { JobActions } from '../components/JobActions.js'
import { formatSize } from '../../../protocol/market/requirements.js'

/** The job's log, pushed as the daemon streams it (jobLogs with follow), and the metric points in it. */
function useLiveLog (ref: string): { lines: LogLine[], series: Record<string, MetricPoint[]>, error: Error | undefined, ended: JobView | undefined } {
  const [lines, setLines] = useState<LogLine[]>([])
  const [series, setSeries] = useState<Record<string, MetricPoint[]>>({})
  const [error, setError] = useState<Error>()
  const [ended, setEnded] = useState<JobView>()
  useEffect(() => {
    const controller = new AbortController()
    setLines([])
    setSeries({})
    let pending: LogLine[] = []
    // lines arrive in bursts: the page takes them at most every 100 ms, and all at the end
    const takePending = (): void => {
      if (pending.length === 0) return
      const batch = pending
      pending = []
      setLines(all => [...all, ...batch])
      const points = batch.flatMap(line => {
        const found = line.stream === 'stdout' ? parseMetricLine(line.line, line.at) : null
        return found == null ? [] : [found]
      })
      if (points.length > 0) {
        setSeries(current => {
          const next = { ...current }
          for (const p of points) next[p.metric] = [...(next[p.metric] ?? []), p.point]
          return next
        })
      }
    }
    const flush = setInterval(takePending, 100)
    api.call('jobLogs', { ref, after: 0, follow: true }, { signal: controller.signal, onProgress: line => { pending.push(line) } })
      .then(job => {
        if (controller.signal.aborted) return
        takePending()
        setEnded(job)
      })
      .catch((err: Error) => { if (!controller.signal.aborted) setError(err) })
    return () => { controller.abort(); clearInterval(flush) }
  }, [ref])
  return { lines, series, error, ended }
}

/**
 * A served job's ports (`floe run --serve`): links to this machine's loopback ports that reach
 * them while the job runs (on a loopback address other than the UI's, so the job's server
 * never gets the UI's cookie).
 */
function ServedPorts ({ job }: { job: JobView }): ReactNode {
  const running = job.state === 'running'
  const served = useLoad(async signal => running ? (await api.call('serveList', {}, { signal })).ports.filter(p => p.ref === job.ref) : [], [job.ref, running], running ? 1500 : undefined)
  const ports = served.data ?? []
  if (isFinal(job.state)) return <span className='muted'>{job.spec.serve?.join(', ')} (no more: the job ended)</span>
  if (ports.length === 0) return <span className='muted'>{job.spec.serve?.join(', ')} (reachable here once the job runs)</span>
  return (
    <ul className='plain' aria-label='served ports'>
      {ports.map(p => (
        <li key={`${p.remote}:${p.local}`}>
          <a href={`http://${p.host}:${p.local}/`} target='_blank' rel='noreferrer'>http://{p.host}:{p.local}/</a> → job port {p.remote}
        </li>
      ))}
    </ul>
  )
}

export function Job (): ReactNode {
  const ref = useParams().ref ?? ''
  const navigate = useNavigate()
  const [live, setLive] = useState(true)
  const job = useLoad(async signal => await api.call('jobShow', { ref }, { signal }), [ref], live ? 1500 : undefined)
  const log = useLiveLog(ref)
  const { busy, error: actionError, run: act } = useAction()
  const j = log.ended ?? job.data
  useEffect(() => { if (j != null && isFinal(j.state) && log.ended != null) setLive(false) }, [j?.state, log.ended])

  if (j == null) return <main id='main'><h1>Job {ref}</h1><ErrorBox error={job.error} />{job.error == null && <Loading />}</main>
  const final = isFinal(j.state)
  return (
    <main id='main'>
      <h1>Job {j.ref} <StatusBadge state={j.state} /></h1>
      <p className='muted'>{j.message !== '' ? j.message : 'no message'}{j.reusedFrom != null && <> · returned the output of <Link to={`/jobs/${encodeURIComponent(j.reusedFrom)}`}>{j.reusedFrom}</Link> (same spec): nothing ran</>}</p>
      <div className='actions'>
        {!final && <button type='button' disabled={busy} onClick={() => { void act(async () => { await api.call('jobStop', { ref: j.ref }); job.reload() }) }}>Stop</button>}
        <button type='button' disabled={busy} onClick={() => { void act(async () => { const next = await api.call('jobRerun', { ref: j.ref }); navigate(`/jobs/${encodeURIComponent(next.ref)}`) }) }}>Rerun</button>
        <Link className='button' to={`/launch?${new URLSearchParams({ rerun: j.ref }).toString()}`}>Rerun with changes…</Link>
        {j.deterministic && <button type='button' disabled={busy} onClick={() => { void act(async () => { const next = await api.call('jobRerun', { ref: j.ref, reuse: true }); navigate(`/jobs/${encodeURIComponent(next.ref)}`) }) }}>Rerun (reuse output)</button>}
      </div>
      <ErrorBox error={actionError} />
      <JobActions job={j} onChanged={job.reload} />

      <div className='columns'>
        <section>
          <h2>Details</h2>
          <dl className='details'>
            <dt>Command</dt><dd><code>{displayCommand(j.spec.command)}</code></dd>
            <dt>Environment</dt><dd>{j.spec.environment}</dd>
            <dt>Resources</dt><dd>{j.spec.resources.cpus} CPU · {formatSize(j.spec.resources.memoryBytes)} · {j.spec.resources.gpus} GPU · limit {Math.round(j.spec.timeoutSeconds / 60)} min</dd>
            <dt>Inputs</dt><dd><InputList inputs={j.inputs} /></dd>
            {j.spec.serve != null && <><dt>Serves</dt><dd><ServedPorts job={j} /></dd></>}
            <dt>Provider</dt><dd>{j.provider == null ? '–' : <Mono>{j.provider}</Mono>}{j.pricePerHour != null && ` at ${money(j.pricePerHour)}/h`}</dd>
            <dt>Duration</dt><dd>{jobDuration(j)}{j.receipt != null && ` (prepared in ${j.receipt.preparingMs} ms) · cost ${money(j.receipt.cost)}`}</dd>
            <dt>Exit code</dt><dd>{j.exitCode ?? '–'}{j.reason != null && ` — ${j.reason}`}</dd>
            <dt>Spec</dt><dd><Mono>{j.specCid}</Mono></dd>
            <dt>Code</dt><dd><Mono>{j.spec.code}</Mono></dd>
            <dt>Output</dt><dd>{j.outputCid == null ? '–' : <Mono>{j.outputCid}</Mono>}</dd>
          </dl>
        </section>
        <section>
          <h2>Timeline</h2>
          <ol className='timeline'>
            {j.states.map((s, i) => <li key={i}><StatusBadge state={s.state} /> <time dateTime={s.at}>{new Date(s.at).toLocaleTimeString()}</time></li>)}
          </ol>
          {j.attempts.length > 0 && <ul className='plain muted'>{j.attempts.map((a, i) => <li key={i}>{a.outcome} by <Mono>{a.provider.slice(-8)}</Mono>{a.reason != null && `: ${a.reason}`}</li>)}</ul>}
        </section>
      </div>

      <h2>Log</h2>
      <ErrorBox error={log.error} />
      <LogView lines={log.lines} live={!final || log.ended == null} />

      <h2>Metrics</h2>
      {Object.keys(log.series).length === 0
        ? <p className='muted'>No metrics yet: a job reports one by printing a line like <code>{'{"metric": "loss", "value": 0.31, "step": 10}'}</code>.</p>
        : <div className='charts'>{Object.entries(log.series).map(([name, points]) => <MetricChart key={name} name={name} points={points} />)}</div>}
      <SystemCharts job={j} />

      <h2>Output</h2>
      {j.outputCid == null
        ? <p className='muted'>{final ? 'This job left no output.' : 'The output appears here when the job ends.'}</p>
        : <ContentBrowser cid={j.outputCid} name={`${j.ref.split('/').slice(-2).join('-')}-output`} />}

      <h2>Code</h2>
      <CodeSnapshot cid={j.spec.code} name={`${j.ref.split('/').slice(-2).join('-')}-code`} />
    </main>
  )
}
