import { useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import type { JobView } from '../../../protocol/jobs/view.js'
import { formatDuration, formatSize, parseDuration, parseSize, type RequirementsInput } from '../../../protocol/market/requirements.js'
import { shellQuote, splitShellWords } from '../../../protocol/shell-words.js'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Mono } from '../components/common.js'
import { chosenMounts, maxPriceOf, MountPicker, type Mount } from '../components/JobForm.js'
import { money, shortPeer } from '../../../protocol/format.js'
import { TaskPicker } from '../components/TaskPicker.js'

/** Everything the form holds, as the text its fields show. */
export interface LaunchForm {
  project: string
  env: string
  cpus: string
  memory: string
  gpus: string
  gpuModel: string
  timeout: string
  maxPrice: string
  command: string
  /** run the command line through `sh -c` (pipes, `;`, variables) instead of as words */
  shell: boolean
  message: string
  path: string
  provider: string
  retries: string
  deterministic: boolean
  network: boolean
}

const BLANK: LaunchForm = { project: '', env: 'busybox', cpus: '1', memory: '1g', gpus: '0', gpuModel: '', timeout: '1h', maxPrice: '', command: '', shell: false, message: '', path: '', provider: '', retries: '0', deterministic: false, network: false }

/**
 * The command a form's line stands for: its shell words (quotes kept as meant), or the whole
 * line given to `sh -c` when the user asks for a shell.
 */
export function commandOf (text: string, shell: boolean): string[] {
  const trimmed = text.trim()
  if (trimmed === '') return []
  return shell ? ['sh', '-c', trimmed] : splitShellWords(trimmed)
}

/** A job's spec as the form's fields: what "Rerun with changes…" starts from. */
export function formOfJob (job: JobView): LaunchForm {
  const { command, resources } = job.spec
  const viaShell = command.length === 3 && command[0] === 'sh' && command[1] === '-c'
  return {
    project: job.projectId,
    env: job.spec.environment,
    cpus: String(resources.cpus),
    memory: formatSize(resources.memoryBytes).replace(' ', ''),
    gpus: String(resources.gpus),
    gpuModel: resources.gpuModel ?? '',
    timeout: formatDuration(job.spec.timeoutSeconds),
    maxPrice: job.maxPricePerHour == null ? '' : String(job.maxPricePerHour),
    command: viaShell ? command[2] ?? '' : shellQuote(command),
    shell: viaShell,
    message: job.message,
    path: '',
    provider: job.requestedProvider ?? '',
    retries: String(job.retries),
    deterministic: job.deterministic,
    network: job.spec.network
  }
}

export function Launch (): ReactNode {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const rerunOf = params.get('rerun') ?? ''
  const projects = useLoad(async signal => (await api.call('projectList', {}, { signal })).projects, [])
  const offers = useLoad(async signal => (await api.call('providers', {}, { signal })).providers, [], 5000)
  const base = useLoad(async signal => rerunOf === '' ? null : await api.call('jobShow', { ref: rerunOf }, { signal }), [rerunOf])
  const [form, setForm] = useState<LaunchForm>({ ...BLANK, project: params.get('project') ?? '', provider: params.get('provider') ?? '' })
  const [mounts, setMounts] = useState<Mount[]>([])
  const { busy, error, run: act } = useAction()
  const [dry, setDry] = useState<Awaited<ReturnType<typeof api.call<'match'>>>>()
  const set = (key: keyof LaunchForm) => (e: { target: { value: string } }) => { setForm({ ...form, [key]: e.target.value }) }
  const tick = (key: 'shell' | 'deterministic' | 'network') => (e: { target: { checked: boolean } }) => { setForm({ ...form, [key]: e.target.checked }) }
  /** fills the form from a preset (a job's spec, a run-config task): what it names replaces the field */
  const prefill = (preset: Partial<LaunchForm>, presetMounts?: Mount[]): void => {
    setForm(current => ({ ...current, ...preset }))
    if (presetMounts != null) setMounts(presetMounts)
  }
  const baseJob = base.data ?? undefined
  useEffect(() => {
    if (baseJob != null) prefill(formOfJob(baseJob), baseJob.inputs.map(i => ({ ref: i.ref, mount: i.mount })))
  }, [baseJob?.jobId])

  const gpus = Number(form.gpus)
  const requirements = (): RequirementsInput => ({
    cpus: Number(form.cpus),
    memoryBytes: parseSize(form.memory),
    gpus,
    ...(form.gpuModel.trim() !== '' ? { gpuModel: form.gpuModel.trim() } : {}),
    ...(form.network ? { network: true } : {})
  })
  const offerRows = offers.data ?? []
  const environments = [...new Set(offerRows.flatMap(o => o.offer.environments).concat('busybox'))].sort()
  const gpuModels = [...new Set(offerRows.flatMap(o => o.offer.gpus.map(g => g.model)))].sort()

  const run = async (event: FormEvent, dryRun: boolean): Promise<void> => {
    event.preventDefault()
    await act(async () => {
      const timeoutSeconds = parseDuration(form.timeout)
      const maxPrice = maxPriceOf(form.maxPrice)
      if (dryRun) {
        setDry(await api.call('match', { requirements: { ...requirements(), environment: form.env, maxSeconds: timeoutSeconds, ...maxPrice } }))
        return
      }
      const command = commandOf(form.command, form.shell)
      const common = {
        command,
        environment: form.env,
        data: chosenMounts(mounts),
        timeoutSeconds,
        ...maxPrice,
        message: form.message,
        retries: Number(form.retries),
        deterministic: form.deterministic,
        ...(form.provider.trim() !== '' ? { provider: form.provider.trim() } : {})
      }
      const job = baseJob != null
        // the job's own code snapshot, with the changes made here
        ? await api.call('jobRerun', { ref: baseJob.ref, ...common, requirements: { ...requirements(), network: form.network } })
        : await api.call('jobRun', {
          ...common,
          ...(form.path.trim() !== '' ? { path: form.path.trim() } : {}),
          requirements: requirements(),
          ...(form.project !== '' ? { project: form.project } : {})
        })
      navigate(`/jobs/${encodeURIComponent(job.ref)}`)
    })
  }

  return (
    <main id='main'>
      <h1>{baseJob != null ? `Rerun ${baseJob.ref} with changes` : 'Launch a job'}</h1>
      <ErrorBox error={base.error} />
      {baseJob != null && <p className='muted'>The new job runs the code snapshot of <Link to={`/jobs/${encodeURIComponent(baseJob.ref)}`}>{baseJob.ref}</Link> (<Mono title={baseJob.spec.code}>{baseJob.spec.code.slice(0, 16)}…</Mono>) in its project; what you change here replaces the job's own.</p>}
      <form className='launch' aria-label='launch a job' onSubmit={e => { void run(e, false) }}>
        {baseJob == null && (
          <label>Project
            <select name='project' value={form.project} onChange={set('project')}>
              <option value=''>this node's default project</option>
              {(projects.data ?? []).filter(p => p.writable).map(p => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
        )}
        <label>Environment
          <input name='env' list='environments' value={form.env} onChange={set('env')} required />
          <datalist id='environments'>{environments.map(e => <option key={e} value={e} />)}</datalist>
        </label>
        <div className='row'>
          <label>CPUs<input name='cpus' type='number' min='1' value={form.cpus} onChange={set('cpus')} required /></label>
          <label>Memory<input name='memory' value={form.memory} onChange={set('memory')} required /></label>
          <label>GPUs<input name='gpus' type='number' min='0' value={form.gpus} onChange={set('gpus')} required /></label>
          <label>GPU model
            <select name='gpuModel' value={form.gpuModel} onChange={set('gpuModel')} disabled={gpus === 0} aria-describedby='gpu-model-hint'>
              <option value=''>any</option>
              {[...new Set([...gpuModels, ...(form.gpuModel !== '' ? [form.gpuModel] : [])])].map(m => <option key={m} value={m}>{m}</option>)}
            </select>
          </label>
          <label>Time limit<input name='timeout' value={form.timeout} onChange={set('timeout')} required /></label>
          <label>Max price /h<input name='maxPrice' type='number' min='0' step='any' value={form.maxPrice} onChange={set('maxPrice')} placeholder='any' /></label>
        </div>
        <p className='muted hint' id='gpu-model-hint'>GPU models are those offered in the market now{gpus === 0 ? ' (ask for a GPU first)' : ''}.</p>
        <div className='row'>
          <label>Provider
            <select name='provider' value={form.provider} onChange={set('provider')}>
              <option value=''>the best offer</option>
              {[...new Set([...offerRows.map(o => o.offer.peerId), ...(form.provider !== '' ? [form.provider] : [])])].map(p => <option key={p} value={p}>{shortPeer(p)}</option>)}
            </select>
          </label>
          <label>Retries<input name='retries' type='number' min='0' max='10' value={form.retries} onChange={set('retries')} required /></label>
          <label className='check'><input type='checkbox' name='deterministic' checked={form.deterministic} onChange={tick('deterministic')} /> Deterministic (same spec, same output)</label>
          <label className='check'><input type='checkbox' name='network' checked={form.network} onChange={tick('network')} /> Needs the network</label>
        </div>
        <MountPicker mounts={mounts} onChange={setMounts} />
        <label>Command<input name='command' value={form.command} onChange={set('command')} placeholder='python train.py --lr 0.1' required aria-describedby='command-hint' /></label>
        <label className='check'><input type='checkbox' name='shell' checked={form.shell} onChange={tick('shell')} /> Run through sh -c (pipes, ;, $VARIABLES)</label>
        <p className='muted hint' id='command-hint'>Split into words as a shell does: quote a word with spaces (<code>echo 'a b'</code>).{!form.shell && form.command.trim() !== '' && <> Runs <code data-testid='command-words'>{(() => { try { return JSON.stringify(commandOf(form.command, false)) } catch (err) { return (err as Error).message } })()}</code></>}</p>
        {baseJob == null && <label>Code folder on this machine (optional)<input name='path' value={form.path} onChange={set('path')} placeholder='/home/me/mnist' /></label>}
        {baseJob == null && <TaskPicker path={form.path} onPick={(fields, data) => { prefill(fields, data) }} />}
        <label>Message<input name='message' value={form.message} onChange={set('message')} /></label>
        <div className='actions'>
          <button type='button' disabled={busy} onClick={e => { void run(e, true) }}>Dry run</button>
          <button type='submit' className='primary' disabled={busy}>{baseJob != null ? 'Rerun' : 'Launch'}</button>
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
