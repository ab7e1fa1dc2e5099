/** The launch page's run config tasks: a code folder's floe.yml / floyd.yml, a task chosen pre-fills the form. */
import { useEffect, useState, type ReactNode } from 'react'
import { taskSettings, type RunConfig, type RunSettings } from '../../../protocol/jobs/run-settings.js'
import { shellQuote } from '../../../protocol/shell-words.js'
import { api } from '../api.js'
import { ErrorBox } from './common.js'
import type { Mount } from './JobForm.js'

/** The launch form's fields a task sets (as the form holds them: text). */
export interface TaskFields {
  env?: string
  cpus?: string
  memory?: string
  gpus?: string
  timeout?: string
  maxPrice?: string
  command?: string
  /** a command written as one string runs through sh -c, as `floe run` runs it */
  shell?: boolean
  message?: string
}

/** A task's settings as form fields, and its mounts (undefined: the task sets none). */
export function taskFields (settings: RunSettings): { fields: TaskFields, data: Mount[] | undefined } {
  const text = (value: string | number | undefined): string | undefined => value == null ? undefined : String(value)
  const fields: TaskFields = {
    env: settings.env,
    cpus: text(settings.cpu),
    memory: settings.memory,
    gpus: text(settings.gpu),
    timeout: settings.timeout,
    maxPrice: text(settings.maxPrice),
    ...commandFields(settings.command),
    message: settings.message
  }
  return { fields: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as TaskFields, data: settings.data }
}

/** `command: python train.py` (one string) runs through sh -c, as the CLI runs it; a list is shown as shell words. */
function commandFields (command: string[] | undefined): Pick<TaskFields, 'command' | 'shell'> {
  if (command == null) return {}
  const [only] = command
  return command.length === 1 && only != null && /\s/.test(only) ? { command: only, shell: true } : { command: shellQuote(command), shell: false }
}

const DEFAULTS = ''

/**
 * Reads the code folder's run config (once `path` is an absolute folder) and offers its
 * top-level defaults and tasks; choosing one calls `onPick` with the fields it sets. A
 * config that does not parse shows its error, with the line.
 */
export function TaskPicker ({ path, onPick }: { path: string, onPick: (fields: TaskFields, data: Mount[] | undefined) => void }): ReactNode {
  const [config, setConfig] = useState<RunConfig | null>(null)
  const [error, setError] = useState<Error>()
  const [chosen, setChosen] = useState<string>()
  const folder = path.trim()
  useEffect(() => {
    setConfig(null)
    setError(undefined)
    setChosen(undefined)
    if (!folder.startsWith('/')) return
    const controller = new AbortController()
    // typing a path: ask once it rests
    const timer = setTimeout(() => {
      api.call('runConfig', { path: folder }, { signal: controller.signal })
        .then(result => { if (!controller.signal.aborted) setConfig(result.config) })
        .catch((err: Error) => { if (!controller.signal.aborted) setError(err) })
    }, 300)
    return () => { clearTimeout(timer); controller.abort() }
  }, [folder])

  if (error != null) return <ErrorBox error={error} />
  if (config == null) return null
  const tasks = Object.keys(config.tasks)
  const pick = (name: string): void => {
    setChosen(name)
    const { fields, data } = taskFields(taskSettings(config, name === DEFAULTS ? undefined : name))
    onPick(fields, data)
  }
  return (
    <fieldset className='task-picker'>
      <legend>Run config ({config.file})</legend>
      <label>Task
        <select name='task' value={chosen ?? ''} onChange={e => { pick(e.target.value) }}>
          {chosen == null && <option value='' disabled hidden>choose…</option>}
          <option value={DEFAULTS}>{config.file}'s defaults</option>
          {tasks.map(name => <option key={name} value={name}>{name}{config.tasks[name]?.description != null ? ` — ${config.tasks[name]?.description}` : ''}</option>)}
        </select>
      </label>
      {tasks.length === 0 && <p className='muted'>{config.file} defines no tasks; its defaults fill the form.</p>}
    </fieldset>
  )
}
