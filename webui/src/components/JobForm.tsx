/** Pieces the launch and workspace forms and pages share: data mounts and the price limit. */
import type { ReactNode } from 'react'
import { Link } from 'react-router'
import { api, useLoad } from '../api.js'

export interface Mount { ref: string, mount: string }

/** Read-only data mounts, picked from this node's datasets and earlier jobs' outputs. */
export function MountPicker ({ mounts, onChange }: { mounts: Mount[], onChange: (mounts: Mount[]) => void }): ReactNode {
  const datasets = useLoad(async signal => (await api.call('datasetList', {}, { signal })).datasets, [])
  const jobs = useLoad(async signal => (await api.call('jobList', {}, { signal })).jobs, [])
  const sources = [...new Set([
    ...(datasets.data ?? []).map(d => `${d.name}:${d.version}`),
    ...(jobs.data ?? []).filter(j => j.outputCid != null).map(j => `${j.ref}/output`),
    // a source set from elsewhere (a run config's task) is shown as it is, listed or not
    ...mounts.map(m => m.ref).filter(ref => ref !== '')
  ])]
  const change = (i: number, part: Partial<Mount>): void => { onChange(mounts.map((m, k) => k === i ? { ...m, ...part } : m)) }
  return (
    <fieldset>
      <legend>Data mounts (read-only)</legend>
      {mounts.length === 0 && <p className='muted'>None. Mount a dataset or an earlier job's output.</p>}
      {mounts.map((m, i) => (
        <div className='row' key={i}>
          <label>Source
            <select aria-label={`source of mount ${i + 1}`} value={m.ref} onChange={e => { change(i, { ref: e.target.value }) }}>
              <option value=''>choose…</option>
              {sources.map(s => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <label>Mounted at<input aria-label={`mount point ${i + 1}`} value={m.mount} onChange={e => { change(i, { mount: e.target.value }) }} placeholder='/data' /></label>
          <button type='button' onClick={() => { onChange(mounts.filter((_, k) => k !== i)) }} aria-label={`remove mount ${i + 1}`}>Remove</button>
        </div>
      ))}
      <button type='button' onClick={() => { onChange([...mounts, { ref: '', mount: `/data${mounts.length === 0 ? '' : mounts.length + 1}` }]) }}>Add a mount</button>
    </fieldset>
  )
}

/** The mounts a form submits: rows left on "choose…" are dropped. */
export const chosenMounts = (mounts: Mount[]): Mount[] => mounts.filter(m => m.ref !== '')

/** A "Max price /h" field's value: blank is no limit. */
export const maxPriceOf = (text: string): { maxPricePerHour?: number } => text.trim() === '' ? {} : { maxPricePerHour: Number(text) }

/** A mount's source, linked: an earlier job's output to its job, a dataset to its versions. */
function InputLink ({ inputRef }: { inputRef: string }): ReactNode {
  const job = /^(.+)\/output$/.exec(inputRef)
  if (job != null) return <Link to={`/jobs/${encodeURIComponent(job[1] ?? '')}`}>{inputRef}</Link>
  return <Link to={`/datasets?name=${encodeURIComponent(inputRef.split(':')[0] ?? '')}`}>{inputRef}</Link>
}

/** A job's or workspace's mounted inputs, each linked to where it came from. */
export function InputList ({ inputs }: { inputs: Array<{ ref: string, mount: string }> }): ReactNode {
  if (inputs.length === 0) return 'none'
  return <ul className='plain'>{inputs.map(input => <li key={input.mount}><InputLink inputRef={input.ref} /> → <code>{input.mount}</code></li>)}</ul>
}
