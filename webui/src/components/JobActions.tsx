import { useState, type ReactNode } from 'react'
import { useNavigate } from 'react-router'
import { isFinal } from '../../../protocol/jobs/job.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { api, useAction } from '../api.js'
import { ErrorBox } from './common.js'

/**
 * Restart and Delete on the job page, as `floe restart` and `floe delete`: Restart runs the
 * job's spec again with the code folder as it is now (a folder on this machine, as the launch
 * page takes it); Delete asks first, then writes the tombstone and says what it did.
 */
export function JobActions ({ job, onChanged }: { job: JobView, onChanged: () => void }): ReactNode {
  const navigate = useNavigate()
  const { busy, error, run } = useAction()
  const [restarting, setRestarting] = useState(false)
  const [path, setPath] = useState('')
  const [confirming, setConfirming] = useState(false)
  // the page's job may be the one its log stream ended with, from before the delete
  const [deletedNow, setDeletedNow] = useState<string | null>(null)
  const final = isFinal(job.state)
  const deletedAt = job.deletedAt ?? deletedNow
  const deleted = deletedAt != null
  if (job.spec.workspace != null) return null

  return (
    <section aria-label='restart or delete'>
      {deleted && <p role='status'>Deleted {new Date(deletedAt).toLocaleString()}: hidden from listings, its output is no longer kept here.</p>}
      <div className='actions'>
        <button type='button' disabled={busy} aria-expanded={restarting} onClick={() => { setRestarting(!restarting); setConfirming(false) }}>Restart…</button>
        {final && !deleted && <button type='button' disabled={busy} aria-expanded={confirming} onClick={() => { setConfirming(true); setRestarting(false) }}>Delete…</button>}
      </div>
      {restarting && (
        <form
          className='actions'
          onSubmit={e => {
            e.preventDefault()
            void run(async () => {
              const next = await api.call('jobRerun', { ref: job.ref, ...(path.trim() !== '' ? { path: path.trim() } : {}) })
              navigate(`/jobs/${encodeURIComponent(next.ref)}`)
            })
          }}
        >
          <label>Code folder on this machine <input value={path} onChange={e => { setPath(e.target.value) }} placeholder='/home/me/mnist (empty: the job&apos;s own code)' size={40} /></label>
          <button type='submit' disabled={busy}>Restart {job.ref}</button>
        </form>
      )}
      {confirming && (
        <div role='alertdialog' aria-label={`delete ${job.ref}?`} className='actions'>
          <span>Delete {job.ref}? It leaves every listing (floe status --all still shows it) and its output is no longer kept, so floe gc can free it.</span>
          <button
            type='button'
            disabled={busy}
            onClick={() => {
              void run(async () => {
                const gone = await api.call('jobDelete', { ref: job.ref })
                setDeletedNow(gone.deletedAt ?? new Date().toISOString())
                setConfirming(false)
                onChanged()
              })
            }}
          >Yes, delete it
          </button>
          <button type='button' disabled={busy} onClick={() => { setConfirming(false) }}>Cancel</button>
        </div>
      )}
      <ErrorBox error={error} />
    </section>
  )
}
