import { useState, type FormEvent, type ReactNode } from 'react'
import { useNavigate, useSearchParams } from 'react-router'
import { parseDuration, parseSize, type RequirementsInput } from '../../../protocol/market/requirements.js'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Mono } from '../components/common.js'
import { chosenMounts, maxPriceOf, MountPicker, type Mount } from '../components/JobForm.js'
import { money, shortPeer } from '../../../protocol/format.js'
import { TaskPicker } from '../components/TaskPicker.js'

/** The command as `floe run` takes it: one text with spaces runs through `sh -c`. */
function commandOf (text: string): string[] {
  const trimmed = text.trim()
  return trimmed === '' ? [] : /\s/.test(trimmed) ? ['sh', '-c', trimmed] : [trimmed]
}

export function Launch (): ReactNode {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const projects = useLoad(async signal => (await api.call('projectList', {}, { signal })).projects, [])
  const offers = useLoad(async signal => (await api.call('providers', {}, { signal })).providers, [], 5000)
  const [form, setForm] = useState({ project: params.get('project') ?? '', env: 'busybox', cpus: '1', memory: '1g', gpus: '0', timeout: '1h', maxPrice: '', command: '', message: '', path: '' })
  const [mounts, setMounts] = useState<Mount[]>([])
  const { busy, error, run: act } = useAction()
  const [dry, setDry] = useState<Awaited<ReturnType<typeof api.call<'match'>>>>()
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => { setForm({ ...form, [key]: e.target.value }) }

  const requirements = (): RequirementsInput => ({ cpus: Number(form.cpus), memoryBytes: parseSize(form.memory), gpus: Number(form.gpus) })
  const environments = [...new Set((offers.data ?? []).flatMap(o => o.offer.environments).concat('busybox'))].sort()

  const run = async (event: FormEvent, dryRun: boolean): Promise<void> => {
    event.preventDefault()
    await act(async () => {
      const timeoutSeconds = parseDuration(form.timeout)
      const maxPrice = maxPriceOf(form.maxPrice)
      if (dryRun) {
        setDry(await api.call('match', { requirements: { ...requirements(), environment: form.env, maxSeconds: timeoutSeconds, ...maxPrice } }))
        return
      }
      const job = await api.call('jobRun', {
        ...(form.path.trim() !== '' ? { path: form.path.trim() } : {}),
        command: commandOf(form.command),
        environment: form.env,
        requirements: requirements(),
        data: chosenMounts(mounts),
        timeoutSeconds,
        ...maxPrice,
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
        <MountPicker mounts={mounts} onChange={setMounts} />
        <label>Command<input name='command' value={form.command} onChange={set('command')} placeholder='python train.py' required /></label>
        <label>Code folder on this machine (optional)<input name='path' value={form.path} onChange={set('path')} placeholder='/home/me/mnist' /></label>
        <TaskPicker path={form.path} onPick={(fields, data) => { setForm(f => ({ ...f, ...fields })); if (data != null) setMounts(data) }} />
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
