import { useState, type ReactNode } from 'react'
import type { JobView } from '../../../protocol/jobs/view.js'
import { idleCountdown } from '../../../protocol/format.js'
import { api, useAction } from '../api.js'
import { ErrorBox, Mono } from './common.js'

/**
 * A running workspace's idle stop, as its provider last said when it was used
 * (`idleStopAt`, /floe/job/1.3.0): "stops when idle in 12 min". The page reloads the job
 * every few seconds, which moves it on.
 */
export function IdleCountdown ({ ws }: { ws: JobView }): ReactNode {
  if (ws.state !== 'running') return null
  if (ws.idleStopAt == null) return <span className='muted'>not known yet (its provider has not said when it was last used)</span>
  return <span data-testid='idle-countdown'>stops when idle <time dateTime={ws.idleStopAt}>{idleCountdown(ws)}</time></span>
}

/** "Save home now": the provider saves the home (and /code) as its periodic saves do; the new CID and when it was saved show here. */
export function SaveHomeButton ({ ws, onSaved }: { ws: JobView, onSaved: () => void }): ReactNode {
  const { busy, error, run } = useAction()
  const [saved, setSaved] = useState<{ home: string, savedAt: string }>()
  if (ws.state !== 'running') return null
  return (
    <div className='save-home'>
      <button type='button' disabled={busy} onClick={() => { void run(async () => { const result = await api.call('workspaceSave', { ref: ws.ref }); setSaved(result); onSaved() }) }}>
        {busy ? 'Saving home…' : 'Save home now'}
      </button>
      <span role='status' data-testid='home-saved'>
        {saved != null && <> Saved as <Mono>{saved.home}</Mono> at <time dateTime={saved.savedAt}>{new Date(saved.savedAt).toLocaleTimeString()}</time></>}
      </span>
      <ErrorBox error={error} />
    </div>
  )
}
