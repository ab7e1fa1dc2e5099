import { useState, type FormEvent, type ReactNode } from 'react'
import { useNavigate, useSearchParams } from 'react-router'
import { parseDuration, parseSize, type RequirementsInput } from '../../../protocol/market/requirements.js'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Mono } from '../components/common.js'
import { money, shortPeer } from '../format.js'

interface Mount { ref: string, mount: string }

/** The command as `floe run` takes it: one text with spaces runs through `sh -c`. */
function commandOf (text: string): string[] {
  const trimmed = text.trim()
  return trimmed === '' ? [] : /\s/.test(trimmed) ? ['sh', '-c', trimmed] : [trimmed]
}

export function Launch (): ReactNode {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const projects = useLoad(async signal => (await api.call('projectList', {}, { signal })).projects, [])
  const datasets = useLoad(async signal => (await api.call('datasetList', {}, { signal })).datasets, [])
  const jobs = useLoad(async signal => (await api.call('jobList', {}, { signal })).jobs, [])
  const offers = useLoad(async signal => (await api.call('providers', {}, { signal })).providers, [], 5000)
  const [form, setForm] = useState({ project: params.get('project') ?? '', env: 'busybox', cpus: '1', memory: '1g', gpus: '0', timeout: '1h', maxPrice: '', command: '', message: '', path: '' })
  const [mounts, setMounts] = useState<Mount[]>([])
  const { busy, error, run: act } = useAction()
  const [dry, setDry] = useState<Awaited<ReturnType<typeof api.call<'match'>>>>()
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => { setForm({ ...form, [key]: e.target.value }) }

  const requirements = (): RequirementsInput => ({ cpus: Number(form.cpus), memoryBytes: parseSize(form.memory), gpus: Number(form.gpus) })
  const environments = [...new Set((offers.data ?? []).flatMap(o => o.offer.environments).concat('busybox'))].sort()
  const sources = [
    ...(datasets.data ?? []).map(d => `${d.name}:${d.version}`),
    ...(jobs.data ?? []).filter(j => j.outputCid != null).map(j => `${j.ref}/output`)
  ]

  const run = async (event: FormEvent, dryRun: boolean): Promise<void> => {
    event.preventDefault()
    await act(async () => {
      const timeoutSeconds = parseDuration(form.timeout)
      const maxPricePerHour = form.maxPrice.trim() === '' ? undefined : Number(form.maxPrice)
      if (dryRun) {
        setDry(await api.call('match', { requirements: { ...requirements(), environment: form.env, maxSeconds: timeoutSeconds, ...(maxPricePerHour != null ? { maxPricePerHour } : {}) } }))
        return
      }
      const job = await api.call('jobRun', {
        ...(form.path.trim() !== '' ? { path: form.path.trim() } : {}),
        command: commandOf(form.command),
        environment: form.env,
        requirements: requirements(),
        data: mounts.filter(m => m.ref !== ''),
        timeoutSeconds,
        ...(maxPricePerHour != null ? { maxPricePerHour } : {}),
        message: form.message,
        ...(form.project !== '' ? { project: form.project } : {})
      })
      navigate(`/jobs/${encodeURIComponent(job.ref)}`)
    })
  }

  return (
    <main id='main'>
      <h1>Launch a job</h1>
      <form className='launch' onSubmit={e => { void run(e, false) }}>
        <label>Project
          <select name='project' value={form.project} onChange={set('project')}>
            <option value=''>this node's default project</option>
            {(projects.data ?? []).filter(p => p.writable).map(p => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </label>
        <label>Environment
          <input name='env' list='environments' value={form.env} onChange={set('env')} required />
          <datalist id='environments'>{environments.map(e => <option key={e} value={e} />)}</datalist>
        </label>
        <div className='row'>
          <label>CPUs<input name='cpus' type='number' min='1' value={form.cpus} onChange={set('cpus')} required /></label>
          <label>Memory<input name='memory' value={form.memory} onChange={set('memory')} required /></label>
          <label>GPUs<input name='gpus' type='number' min='0' value={form.gpus} onChange={set('gpus')} required /></label>
          <label>Time limit<input name='timeout' value={form.timeout} onChange={set('timeout')} required /></label>
          <label>Max price /h<input name='maxPrice' type='number' min='0' step='any' value={form.maxPrice} onChange={set('maxPrice')} placeholder='any' /></label>
        </div>
        <fieldset>
          <legend>Data mounts (read-only)</legend>
          {mounts.length === 0 && <p className='muted'>None. Mount a dataset or an earlier job's output.</p>}
          {mounts.map((m, i) => (
            <div className='row' key={i}>
              <label>Data
                <select value={m.ref} onChange={e => { setMounts(mounts.map((x, k) => k === i ? { ...x, ref: e.target.value } : x)) }}>
                  <option value=''>choose…</option>
                  {sources.map(s => <option key={s} value={s}>{s}</option>)}
                </select>
              </label>
              <label>at<input value={m.mount} onChange={e => { setMounts(mounts.map((x, k) => k === i ? { ...x, mount: e.target.value } : x)) }} placeholder='/data' /></label>
              <button type='button' onClick={() => { setMounts(mounts.filter((_, k) => k !== i)) }} aria-label={`remove mount ${i + 1}`}>Remove</button>
            </div>
          ))}
          <button type='button' onClick={() => { setMounts([...mounts, { ref: '', mount: `/data${mounts.length === 0 ? '' : mounts.length + 1}` }]) }}>Add a mount</button>
        </fieldset>
        <label>Command<input name='command' value={form.command} onChange={set('command')} placeholder='python train.py' required /></label>
        <label>Code folder on this machine (optional)<input name='path' value={form.path} onChange={set('path')} placeholder='/home/me/mnist' /></label>
        <label>Message<input name='message' value={form.message} onChange={set('message')} /></label>
        <div className='actions'>
          <button type='button' disabled={busy} onClick={e => { void run(e, true) }}>Dry run</button>
          <button type='submit' className='primary' disabled={busy}>Launch</button>
        </div>
      </form>
      <ErrorBox error={error} />
      {dry != null && (
        <section aria-label='dry run'>
          <h2>Dry run</h2>
          {dry.ranked.length === 0
            ? <Empty>No provider can take this job.</Empty>
            : <ol>{dry.ranked.map(r => <li key={r.peerId}><Mono title={r.peerId}>{shortPeer(r.peerId)}</Mono> — {money(r.costPerHour)}/h{r.latencyMs != null && `, ${r.latencyMs} ms`}</li>)}</ol>}
          {dry.excluded.length > 0 && <><h3>Excluded</h3><ul>{dry.excluded.map(e => <li key={e.peerId}><Mono title={e.peerId}>{shortPeer(e.peerId)}</Mono>: {e.reasons.join('; ')}</li>)}</ul></>}
        </section>
      )}
    </main>
  )
}
