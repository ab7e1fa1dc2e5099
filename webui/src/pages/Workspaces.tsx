import { useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import type { JobView } from '../../../protocol/jobs/view.js'
import { formatDuration, parseDuration, parseSize, formatSize } from '../../../protocol/market/requirements.js'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, StatusBadge } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { chosenMounts, InputList, maxPriceOf, MountPicker, type Mount } from '../components/JobForm.js'
import { Terminal } from '../components/Terminal.js'
import { CodeSnapshot } from '../components/CodeSnapshot.js'
import { IdleCountdown, SaveHomeButton } from '../components/WorkspaceSave.js'
import { costSoFar } from '../job-facts.js'
import { ago, idleCountdown, money, shortPeer } from '../../../protocol/format.js'
import { isFinal } from '../../../protocol/jobs/job.js'
import { notebookOf } from '../../../protocol/workspaces/notebook.js'

interface Forward { ref: string, host: string, remote: number, local: number }

const pageOf = (ref: string): string => `/workspaces/${encodeURIComponent(ref)}`

/** A workspace's forwarded ports: only a running one answers on them. */
const portsOf = (ws: JobView, ports: Forward[]): Forward[] => ws.state === 'running' ? ports.filter(p => p.ref === ws.ref) : []

/** Forwarded ports as links: each is a port of this machine, on a loopback address other than the UI's (so it never gets the UI's cookie). */
function PortLinks ({ ports }: { ports: Forward[] }): ReactNode {
  if (ports.length === 0) return <span className='muted'>–</span>
  return (
    <ul className='plain'>
      {ports.map(p => (
        <li key={`${p.remote}:${p.local}`}>
          <a href={`http://${p.host}:${p.local}/`} target='_blank' rel='noreferrer'>{p.host}:{p.local}</a> → port {p.remote}
        </li>
      ))}
    </ul>
  )
}

/** Stop (when it runs) and restart (a new workspace, its home restored): both pages' buttons. */
function WorkspaceActions ({ ws, onChange, onRestarted }: { ws: JobView, onChange: () => void, onRestarted: (next: JobView) => void }): ReactNode {
  const { busy, error, run } = useAction()
  const label = ws.message !== '' ? ws.message : ws.ref
  return (
    <>
      <div className='actions'>
        {!isFinal(ws.state) && <button type='button' disabled={busy} aria-label={`Stop ${label}`} onClick={() => { void run(async () => { await api.call('jobStop', { ref: ws.ref }); onChange() }) }}>Stop</button>}
        <button type='button' disabled={busy} aria-label={`Restart ${label}`} onClick={() => { void run(async () => { onRestarted(await api.call('workspaceRestart', { ref: ws.ref })) }) }}>Restart</button>
      </div>
      <ErrorBox error={error} />
    </>
  )
}

function StartForm ({ onStarted }: { onStarted: (ws: JobView) => void }): ReactNode {
  const offers = useLoad(async signal => (await api.call('providers', {}, { signal })).providers, [], 10_000)
  const [form, setForm] = useState({ name: '', env: 'busybox', cpus: '1', memory: '1g', gpus: '0', idle: '1h', maxPrice: '' })
  const [mounts, setMounts] = useState<Mount[]>([])
  const { busy, error, run } = useAction()
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => { setForm({ ...form, [key]: e.target.value }) }
  const environments = [...new Set((offers.data ?? []).flatMap(o => o.offer.environments).concat('busybox'))].sort()
  const start = async (event: FormEvent): Promise<void> => {
    event.preventDefault()
    await run(async () => {
      onStarted(await api.call('workspaceStart', {
        name: form.name.trim(),
        environment: form.env.trim(),
        requirements: { cpus: Number(form.cpus), memoryBytes: parseSize(form.memory), gpus: Number(form.gpus) },
        idleTimeoutSeconds: parseDuration(form.idle),
        data: chosenMounts(mounts),
        ...maxPriceOf(form.maxPrice)
      }))
    })
  }
  return (
    <form className='launch' aria-label='start a workspace' onSubmit={e => { void start(e) }}>
      <div className='row'>
        <label>Name<input name='name' value={form.name} onChange={set('name')} placeholder='scratch' maxLength={200} /></label>
        <label>Environment
          <input name='env' list='ws-environments' value={form.env} onChange={set('env')} required />
          <datalist id='ws-environments'>{environments.map(e => <option key={e} value={e} />)}</datalist>
        </label>
      </div>
      <div className='row'>
        <label>CPUs<input name='cpus' type='number' min='1' value={form.cpus} onChange={set('cpus')} required /></label>
        <label>Memory<input name='memory' value={form.memory} onChange={set('memory')} required aria-describedby='ws-memory-hint' /></label>
        <label>GPUs<input name='gpus' type='number' min='0' value={form.gpus} onChange={set('gpus')} required /></label>
        <label>Idle timeout<input name='idle' value={form.idle} onChange={set('idle')} required aria-describedby='ws-idle-hint' /></label>
        <label>Max price /h<input name='maxPrice' type='number' min='0' step='any' value={form.maxPrice} onChange={set('maxPrice')} placeholder='any' /></label>
      </div>
      <p className='muted hint'><span id='ws-memory-hint'>Memory as 512m or 4g.</span> <span id='ws-idle-hint'>It stops (and saves its home) after this long without terminal or port traffic, e.g. 30m or 2h.</span></p>
      <MountPicker mounts={mounts} onChange={setMounts} />
      <div className='actions'><button type='submit' className='primary' disabled={busy}>{busy ? 'Starting…' : 'Start a workspace'}</button></div>
      <ErrorBox error={error} />
    </form>
  )
}

export function Workspaces (): ReactNode {
  const navigate = useNavigate()
  const list = useLoad(async signal => await api.call('workspaceList', {}, { signal }), [], 3000)
  const open = (ws: JobView): void => { navigate(pageOf(ws.ref)) }
  const ports = list.data?.ports ?? []
  return (
    <main id='main'>
      <h1>Workspaces</h1>
      <p className='muted'>A workspace is a container kept running on a provider, with a terminal and forwarded ports; its home (<code>/home/floe</code>) is saved when it stops and restored when it restarts.</p>
      <h2>Start one</h2>
      <StartForm onStarted={open} />
      <h2>Yours</h2>
      <ErrorBox error={list.error} />
      {list.data == null
        ? list.error == null && <Loading />
        : list.data.workspaces.length === 0
          ? <Empty>No workspaces yet. Start one above (or run <code>floe workspace start NAME</code>), then open its terminal from its page.</Empty>
          : <DataTable
              caption='workspaces'
              rows={list.data.workspaces}
              rowKey={ws => ws.ref}
              initialSort={{ key: 'started', desc: true }}
              columns={[
                { key: 'ref', label: 'Workspace', render: ws => <Link to={pageOf(ws.ref)}>{ws.ref}</Link>, sort: ws => ws.ref },
                { key: 'name', label: 'Name', render: ws => ws.message !== '' ? ws.message : <span className='muted'>–</span>, sort: ws => ws.message },
                { key: 'state', label: 'Status', render: ws => <StatusBadge state={ws.state} />, sort: ws => ws.state },
                { key: 'provider', label: 'Provider', render: ws => ws.provider == null ? '–' : <Mono title={ws.provider}>{shortPeer(ws.provider)}</Mono> },
                { key: 'started', label: 'Started', render: ws => ago(ws.createdAt), sort: ws => ws.createdAt },
                { key: 'idle', label: 'Idle stop', render: ws => idleCountdown(ws), sort: ws => ws.idleStopAt ?? '' },
                { key: 'cost', label: 'Cost so far', render: ws => { const c = costSoFar(ws); return c == null ? '–' : money(c) }, sort: ws => costSoFar(ws) ?? 0 },
                { key: 'home', label: 'Home', render: ws => <HomeCid ws={ws} /> },
                { key: 'ports', label: 'Ports', render: ws => <PortLinks ports={portsOf(ws, ports)} /> },
                { key: 'actions', label: 'Actions', render: ws => <WorkspaceActions ws={ws} onChange={list.reload} onRestarted={open} /> }
              ]}
            />}
    </main>
  )
}

function HomeCid ({ ws }: { ws: JobView }): ReactNode {
  const cid = ws.outputCid ?? ws.homeCid
  if (cid == null) return <span className='muted'>not saved yet</span>
  return <Mono title={ws.outputCid != null ? 'saved when it stopped' : 'the latest snapshot'}>{cid}</Mono>
}

/**
 * A Jupyter workspace's notebook: the daemon serves it on an origin of its own (another
 * loopback address than this UI's, so it never gets this UI's cookie and cannot call the API),
 * and the tab opens without an opener or a referrer.
 */
function NotebookButton ({ ws }: { ws: JobView }): ReactNode {
  const [url, setUrl] = useState<string | null>(null)
  const { busy, error, run } = useAction()
  const open = async (): Promise<void> => {
    await run(async () => {
      const notebook = await api.call('workspaceNotebook', { ref: ws.ref })
      setUrl(notebook.url)
      window.open(notebook.url, '_blank', 'noopener,noreferrer')
    })
  }
  return (
    <>
      <div className='actions'>
        <button type='button' className='primary' disabled={busy} onClick={() => { void open() }}>{busy ? 'Opening…' : 'Open notebook'}</button>
        {url != null && <a href={url} target='_blank' rel='noopener noreferrer'>the notebook&apos;s tab</a>}
      </div>
      <ErrorBox error={error} />
    </>
  )
}

function PortForm ({ ws, onForwarded }: { ws: JobView, onForwarded: () => void }): ReactNode {
  const [remote, setRemote] = useState('')
  const [local, setLocal] = useState('')
  const { busy, error, run } = useAction()
  const forward = async (event: FormEvent): Promise<void> => {
    event.preventDefault()
    await run(async () => {
      await api.call('workspacePort', { ref: ws.ref, port: Number(remote), ...(local.trim() !== '' ? { local: Number(local) } : {}) })
      setRemote('')
      setLocal('')
      onForwarded()
    })
  }
  return (
    <>
      <form className='inline' aria-label='forward a port' onSubmit={e => { void forward(e) }}>
        <label htmlFor='port-remote'>Port inside</label>
        <input id='port-remote' type='number' min='1' max='65535' placeholder='8888' value={remote} onChange={e => { setRemote(e.target.value) }} required />
        <label htmlFor='port-local'>Local port</label>
        <input id='port-local' type='number' min='0' max='65535' placeholder='any' value={local} onChange={e => { setLocal(e.target.value) }} />
        <button type='submit' disabled={busy || remote === ''}>{busy ? 'Forwarding…' : 'Forward'}</button>
      </form>
      <ErrorBox error={error} />
    </>
  )
}

export function Workspace (): ReactNode {
  const ref = useParams().ref ?? ''
  const navigate = useNavigate()
  const job = useLoad(async signal => await api.call('jobShow', { ref }, { signal }), [ref], 2000)
  const list = useLoad(async signal => await api.call('workspaceList', {}, { signal }), [ref], 5000)
  const ws = job.data
  if (ws == null) return <main id='main'><h1>Workspace {ref}</h1><ErrorBox error={job.error} />{job.error == null && <Loading />}</main>
  if (ws.spec.workspace == null) {
    return <main id='main'><h1>Workspace {ref}</h1><Empty>{ref} is a job, not a workspace: see <Link to={`/jobs/${encodeURIComponent(ref)}`}>its page</Link>.</Empty></main>
  }
  const settings = ws.spec.workspace
  const final = isFinal(ws.state)
  const ports = portsOf(ws, list.data?.ports ?? [])
  const resources = ws.spec.resources
  return (
    <main id='main'>
      <h1>Workspace {ws.message !== '' ? ws.message : ws.ref} <StatusBadge state={ws.state} /></h1>
      <p className='muted'>{ws.ref}{ws.reason != null && ` · ${ws.reason}`}</p>
      <WorkspaceActions ws={ws} onChange={job.reload} onRestarted={next => { navigate(pageOf(next.ref)) }} />
      <ErrorBox error={job.error} />

      <h2>Terminal</h2>
      {ws.state === 'running'
        ? <Terminal workspace={ws.ref} />
        : final
          ? <Empty>This workspace is {ws.state}{ws.outputCid != null && <>; its home was saved as <Mono>{ws.outputCid}</Mono></>}. Restart it to open a terminal with its home restored.</Empty>
          : <p className='muted' role='status'>The workspace is {ws.state}; its terminal opens here when it is running.</p>}

      {notebookOf(ws.spec.command) != null && (
        <>
          <h2>Notebook</h2>
          {ws.state === 'running'
            ? <NotebookButton ws={ws} />
            : <p className='muted'>Its Jupyter notebook opens here while the workspace runs (when its environment has Jupyter).</p>}
        </>
      )}

      <h2>Forwarded ports</h2>
      {ws.state === 'running'
        ? <PortForm ws={ws} onForwarded={list.reload} />
        : <p className='muted'>Ports can be forwarded while the workspace runs.</p>}
      <ErrorBox error={list.error} />
      {ports.length === 0
        ? <p className='muted'>None. Start a server inside (e.g. <code>python -m http.server 8000</code>), then forward its port to open it here.</p>
        : <PortLinks ports={ports} />}

      <h2>Details</h2>
      <dl className='details'>
        <dt>Workspace</dt><dd><Link to={`/jobs/${encodeURIComponent(ws.ref)}`}>{ws.ref}</Link> (its job page: log, timeline)</dd>
        <dt>Environment</dt><dd>{ws.spec.environment}</dd>
        <dt>Resources</dt><dd>{resources.cpus} CPU · {formatSize(resources.memoryBytes)} · {resources.gpus} GPU{resources.gpuModel != null && ` (${resources.gpuModel})`} · limit {formatDuration(ws.spec.timeoutSeconds)}</dd>
        <dt>Inputs</dt><dd><InputList inputs={ws.inputs} /></dd>
        <dt>Provider</dt><dd>{ws.provider == null ? '–' : <Mono>{ws.provider}</Mono>}{ws.pricePerHour != null && ` at ${money(ws.pricePerHour)}/h`}</dd>
        <dt>Started</dt><dd><time dateTime={ws.createdAt}>{ago(ws.createdAt)}</time></dd>
        <dt>Cost so far</dt><dd data-testid='workspace-cost'>{(() => { const c = costSoFar(ws); return c == null ? '–' : `${money(c)} credits` })()}</dd>
        <dt>Idle timeout</dt><dd>{formatDuration(settings.idleTimeoutSeconds)} without terminal or port traffic{ws.state === 'running' && <>; <IdleCountdown ws={ws} /></>}</dd>
        <dt>Snapshots</dt><dd>the home is saved every {formatDuration(settings.snapshotSeconds)}</dd>
        <dt>Home</dt><dd><HomeCid ws={ws} /></dd>
        <dt>Restored from</dt><dd>{settings.home == null ? 'an empty home' : <Mono>{settings.home}</Mono>}</dd>
      </dl>

      <h2>Saved home</h2>
      <SaveHomeButton ws={ws} onSaved={job.reload} />
      {(ws.outputCid ?? ws.homeCid) == null
        ? <p className='muted'>Not saved yet: the home is saved every {formatDuration(settings.snapshotSeconds)} while it runs, and when it stops.</p>
        : <CodeSnapshot cid={(ws.outputCid ?? ws.homeCid) as string} name={`${ws.ref.split('/').slice(-2).join('-')}-home`} what='the saved home' />}
    </main>
  )
}
