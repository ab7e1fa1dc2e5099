import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { isFinal, type LogLine } from '../../../protocol/jobs/job.js'
import { parseMetricLine, type MetricPoint } from '../../../protocol/jobs/metrics.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { api, isConnectionError, noteFailure, useAction, useLoad } from '../api.js'
import { ErrorBox, Loading, Mono, StatusBadge, useTitle } from '../components/common.js'
import { CodeSnapshot } from '../components/CodeSnapshot.js'
import { shellQuote } from '../../../protocol/shell-words.js'
import { ContentBrowser } from '../components/ContentBrowser.js'
import { InputList } from '../components/JobForm.js'
import { LogView, MAX_LINES } from '../components/LogView.js'
import { MetricChart } from '../components/MetricChart.js'
import { SystemCharts } from '../components/SystemCharts.js'
import { jobDuration, money } from '../../../protocol/format.js'
import { JobActions } from '../components/JobActions.js'
import { formatSize } from '../../../protocol/market/requirements.js'

/**
 * The job's log, pushed as the daemon streams it (jobLogs with follow) from line `start` on,
 * the latest MAX_LINES of it held (in place: `version` tells a change), and the metric points
 * in it (with, when the log starts later than line 1, the series the daemon kept before).
 * When the daemon goes away mid-stream, it picks up again from the last line once it answers.
 */
function useLiveLog (ref: string, start: number | undefined): { lines: LogLine[], version: number, series: Record<string, MetricPoint[]>, error: Error | undefined, ended: JobView | undefined } {
  const held = useRef<LogLine[]>([])
  const [version, setVersion] = useState(0)
  const [series, setSeries] = useState<Record<string, MetricPoint[]>>({})
  const [error, setError] = useState<Error>()
  const [ended, setEnded] = useState<JobView>()
  useEffect(() => {
    if (start == null) return
    const controller = new AbortController()
    held.current = []
    setVersion(0)
    setSeries({})
    setEnded(undefined)
    let pending: LogLine[] = []
    let last = start
    let known: Set<string> | undefined
    const pointKey = (metric: string, p: MetricPoint): string => `${metric}|${p.at}|${p.step ?? ''}|${p.epoch ?? ''}|${p.value}`
    // lines arrive in bursts: the page takes them at most every 100 ms, and all at the end
    const takePending = (): void => {
      if (pending.length === 0) return
      const batch = pending
      pending = []
      const lines = held.current
      for (const line of batch) lines.push(line)
      if (lines.length > MAX_LINES * 1.25) lines.splice(0, lines.length - MAX_LINES)
      setVersion(v => v + 1)
      const points = batch.flatMap(line => {
        const found = line.stream === 'stdout' ? parseMetricLine(line.line, line.at) : null
        return found == null || known?.has(pointKey(found.metric, found.point)) === true ? [] : [found]
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
    const follow = async (): Promise<void> => {
      if (start > 0) {
        // the lines before `start` are not loaded: their points come from the daemon's series
        const kept = (await api.call('jobMetrics', { ref }, { signal: controller.signal })).series
        known = new Set(Object.entries(kept).flatMap(([metric, points]) => points.map(p => pointKey(metric, p))))
        setSeries(kept)
      }
      while (true) {
        try {
          const job = await api.call('jobLogs', { ref, after: last, follow: true }, { signal: controller.signal, onProgress: line => { pending.push(line); last = line.seq } })
          if (controller.signal.aborted) return
          takePending()
          setEnded(job)
          return
        } catch (err) {
          if (controller.signal.aborted) return
          if (!isConnectionError(err)) throw err
          noteFailure(err)
          await new Promise(resolve => setTimeout(resolve, 2000))
        }
      }
    }
    follow().catch((err: Error) => { if (!controller.signal.aborted) setError(err) })
    return () => { controller.abort(); clearInterval(flush) }
  }, [ref, start])
  return { lines: held.current, version, series, error, ended }
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

/** "exit code 1" says nothing the exit code does not: the reason shows only when it adds something. */
function exitText (j: JobView): string {
  const code = j.exitCode == null ? '–' : String(j.exitCode)
  if (j.reason == null || /^(?:exited with |non-zero )?exit code -?\d+\.?$/i.test(j.reason.trim())) return code
  return `${code} — ${j.reason}`
}

/** What the job ran: a workspace's keep-alive command is the daemon's, not the user's. */
function commandText (j: JobView): string {
  return j.spec.workspace != null ? 'workspace (kept running for terminals and notebooks)' : shellQuote(j.spec.command)
}

/** Stop, after a confirmation; "Stopping…" until the job has ended. */
function StopButton ({ job, onStopped }: { job: JobView, onStopped: () => void }): ReactNode {
  const [asking, setAsking] = useState(false)
  const [stopping, setStopping] = useState(false)
  const { busy, error, run } = useAction()
  const confirm = useRef<HTMLButtonElement>(null)
  const opener = useRef<HTMLButtonElement>(null)
  useEffect(() => { if (asking) confirm.current?.focus() }, [asking])
  if (stopping || busy) return <button type='button' disabled aria-live='polite'>Stopping…</button>
  if (!asking) return <button ref={opener} type='button' onClick={() => { setAsking(true) }}>Stop</button>
  const cancel = (): void => { setAsking(false); requestAnimationFrame(() => { opener.current?.focus() }) }
  return (
    <div className='confirm' role='group' aria-label='confirm stop' onKeyDown={e => { if (e.key === 'Escape') cancel() }}>
      <span>Stop {job.ref}? Its container is killed; what is already in /output is kept.</span>
      <button ref={confirm} type='button' className='danger' onClick={() => {
        void run(async () => {
          await api.call('jobStop', { ref: job.ref })
          setStopping(true)
          onStopped()
        })
      }}>Stop the job</button>
      <button type='button' onClick={cancel}>Keep it running</button>
      <ErrorBox error={error} />
    </div>
  )
}

/** A job's page: a fresh one for each job (its log, charts and stop state start over). */
export function Job (): ReactNode {
  const ref = useParams().ref ?? ''
  return <JobPage key={ref} ref_={ref} />
}

function JobPage ({ ref_: ref }: { ref_: string }): ReactNode {
  const navigate = useNavigate()
  const [live, setLive] = useState(true)
  useTitle(`Job ${ref}`)
  const job = useLoad(async signal => await api.call('jobShow', { ref }, { signal }), [ref], live ? 1500 : undefined)
  // the log starts at the latest MAX_LINES lines the job has when the page opens
  const [start, setStart] = useState<number>()
  useEffect(() => { if (job.data != null && start == null) setStart(Math.max(0, job.data.logLines - MAX_LINES)) }, [job.data])
  const log = useLiveLog(ref, start)
  const { busy, error: actionError, run: act } = useAction()
  const j = log.ended ?? job.data
  useEffect(() => { if (j != null && isFinal(j.state) && log.ended != null) setLive(false) }, [j?.state, log.ended])

  if (j == null) return <main id='main'><h1>Job {ref}</h1><ErrorBox error={job.error} />{job.error == null && <Loading />}</main>
  const final = isFinal(j.state)
  const workspace = j.spec.workspace != null
  const names = Object.keys(log.series)
  const dropped = j.metricsDropped ?? 0
  return (
    <main id='main'>
      <h1>{workspace ? 'Workspace run' : 'Job'} {j.ref} <StatusBadge state={j.state} /></h1>
      <p className='muted'>{j.message !== '' ? j.message : 'no message'}{j.reusedFrom != null && <> · returned the output of <Link to={`/jobs/${encodeURIComponent(j.reusedFrom)}`}>{j.reusedFrom}</Link> (same spec): nothing ran</>}</p>
      <div className='actions'>
        {!final && <StopButton key={j.ref} job={j} onStopped={job.reload} />}
        {workspace
          ? <Link className='button' to='/workspaces'>Workspaces</Link>
          : <button type='button' disabled={busy} onClick={() => { void act(async () => { const next = await api.call('jobRerun', { ref: j.ref }); navigate(`/jobs/${encodeURIComponent(next.ref)}`) }) }}>Rerun</button>}
        {!workspace && <Link className='button' to={`/launch?${new URLSearchParams({ rerun: j.ref }).toString()}`}>Rerun with changes…</Link>}
        {j.deterministic && !workspace && <button type='button' disabled={busy} onClick={() => { void act(async () => { const next = await api.call('jobRerun', { ref: j.ref, reuse: true }); navigate(`/jobs/${encodeURIComponent(next.ref)}`) }) }}>Rerun (reuse output)</button>}
      </div>
      <ErrorBox error={actionError} />
      <JobActions job={j} onChanged={job.reload} />

      <div className='columns'>
        <section>
          <h2>Details</h2>
          <dl className='details'>
            <dt>Command</dt><dd><code data-testid='command'>{commandText(j)}</code></dd>
            <dt>Environment</dt><dd>{j.spec.environment}</dd>
            <dt>Resources</dt><dd>{j.spec.resources.cpus} CPU · {formatSize(j.spec.resources.memoryBytes)} · {j.spec.resources.gpus} GPU · limit {Math.round(j.spec.timeoutSeconds / 60)} min</dd>
            <dt>Inputs</dt><dd><InputList inputs={j.inputs} /></dd>
            {j.spec.serve != null && <><dt>Serves</dt><dd><ServedPorts job={j} /></dd></>}
            <dt>Provider</dt><dd>{j.provider == null ? '–' : <Mono>{j.provider}</Mono>}{j.pricePerHour != null && ` at ${money(j.pricePerHour)}/h`}</dd>
            <dt>Duration</dt><dd>{jobDuration(j)}{j.receipt != null && ` (prepared in ${j.receipt.preparingMs} ms) · cost ${money(j.receipt.cost)}`}</dd>
            <dt>Exit code</dt><dd data-testid='exit'>{exitText(j)}</dd>
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
      <LogView jobRef={j.ref} lines={log.lines} version={log.version} total={j.logLines} live={!final || log.ended == null} />

      <h2>Metrics</h2>
      {dropped > 0 && <p className='warning' data-testid='metrics-dropped'>{dropped} metric line{dropped === 1 ? ' was' : 's were'} dropped: they name <code>"metric"</code> but are not a metric line (a JSON object with <code>metric</code>, a finite <code>value</code>, and optionally <code>step</code> or <code>epoch</code>, nothing else).</p>}
      {names.length === 0
        ? <p className='muted' data-testid='no-metrics'>{final ? 'This job reported no metrics.' : 'No metrics yet.'} A job reports one by printing a line like <code>{'{"metric": "loss", "value": 0.31, "step": 10}'}</code>.</p>
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
