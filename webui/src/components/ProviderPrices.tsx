import { useState, type FormEvent, type ReactNode } from 'react'
import type { ProviderStatus } from '../../../protocol/market/provider.js'
import { api, useAction } from '../api.js'
import { ErrorBox } from './common.js'
import { formatDuration, formatSize } from '../../../protocol/market/requirements.js'

/** A field of `floe provider set KEY VALUE`: the key, its label, and its value now as that command takes it. */
interface SettingField { key: string, label: string, value: string, hint: string }

function fieldsOf (status: ProviderStatus): SettingField[] {
  const s = status.settings
  return [
    { key: 'price.cpu', label: 'Price per CPU hour', value: String(s.prices.perCpuHour), hint: 'credits' },
    { key: 'price.memory', label: 'Price per GiB hour', value: String(s.prices.perGiBHour), hint: 'credits' },
    ...Object.entries(s.prices.perGpuHour).map(([model, price]) => ({ key: `price.gpu.${model}`, label: `Price per ${model === '*' ? 'GPU (any other model)' : model} hour`, value: String(price), hint: 'credits; "off" stops offering it' })),
    { key: 'cpus', label: 'CPUs shared', value: s.cpus == null ? 'all' : String(s.cpus), hint: 'a count, or all' },
    { key: 'memory', label: 'Memory shared', value: s.memoryBytes == null ? 'auto' : formatSize(s.memoryBytes).replace(' ', ''), hint: 'e.g. 16g, or auto' },
    { key: 'max-jobs', label: 'Jobs at once', value: String(s.maxConcurrentJobs), hint: 'a count' },
    { key: 'max-duration', label: 'Longest job', value: formatDuration(s.maxJobSeconds), hint: 'e.g. 12h' },
    { key: 'network', label: 'Jobs may use the network', value: s.network ? 'on' : 'off', hint: 'on or off' }
  ]
}

/**
 * This node's prices and limits as a provider, edited in place: each change goes through
 * the same setting (and the same checks and errors) as `floe provider set KEY VALUE`.
 */
export function ProviderPrices ({ status, onSaved }: { status: ProviderStatus, onSaved: (next: ProviderStatus) => void }): ReactNode {
  const fields = fieldsOf(status)
  const [edits, setEdits] = useState<Record<string, string>>({})
  const { busy, error, run } = useAction()
  const [saved, setSaved] = useState('')
  const changed = fields.filter(f => edits[f.key] != null && edits[f.key] !== f.value)
  const save = (event: FormEvent): void => {
    event.preventDefault()
    setSaved('')
    void run(async () => {
      let next = status
      for (const f of changed) {
        try {
          next = await api.call('providerSet', { key: f.key, value: (edits[f.key] ?? '').trim() })
        } catch (err) {
          // the settings saved before this one stand: show them, and which one failed
          onSaved(next)
          throw Object.assign(err as Error, { message: `${f.label}: ${(err as Error).message}` })
        }
      }
      setEdits({})
      onSaved(next)
      setSaved(`Saved ${changed.map(f => f.key).join(', ')}.`)
    })
  }
  return (
    <form className='launch provider-prices' aria-label='provider prices and limits' onSubmit={save}>
      <div className='row'>
        {fields.map(f => (
          <label key={f.key}>{f.label}
            <input name={f.key} value={edits[f.key] ?? f.value} onChange={e => { setEdits({ ...edits, [f.key]: e.target.value }) }} title={f.hint} />
          </label>
        ))}
      </div>
      <div className='actions'>
        <button type='submit' className='primary' disabled={busy || changed.length === 0}>{busy ? 'Saving…' : 'Save'}</button>
        <span role='status' className='muted'>{saved}</span>
      </div>
      <ErrorBox error={error} />
    </form>
  )
}
