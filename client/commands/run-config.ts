import { resolve } from 'node:path'
import { Command } from 'commander'
import { RUN_CONFIG_FILES, RunConfigError, taskSettings, type RunConfig, type RunSettings } from '../../protocol/jobs/run-config.js'
import { snapshotLine, snapshotWarning, type CodeSnapshot } from '../../protocol/jobs/code-snapshot.js'
import type { Progress } from '../../protocol/progress.js'
import type { ApiClient } from '../api-client.js'
import { printJson, printLines, printTable } from '../output.js'
import { action } from './action.js'

/** Where a merged setting came from, as `floe run --dry-run` shows it. */
export type SettingSource = 'flag' | 'default' | string

/** The settings a config shares with `floe run`'s options: each key is also the option's (camel-cased) name. */
const OPTION_SETTINGS: Array<Exclude<keyof RunSettings, 'data' | 'command' | 'description'>> = [
  'env', 'cpu', 'memory', 'gpu', 'gpuModel', 'gpuMemory', 'timeout', 'maxPrice', 'maxCost', 'network', 'deterministic', 'retries', 'message'
]

export interface MergedRun {
  /** the options as `floe run` reads them, the config's where no flag was typed */
  opts: Record<string, any>
  /** the command: after `--`, else the config's */
  args: string[]
  /** each option's origin: a typed flag, the config file (`floe.yml` or `floe.yml task train`), or commander's default */
  from: Record<string, SettingSource>
}

/**
 * Merges a run config's settings (a task's, or the top level's) under the flags typed:
 * task < flags; commander's own defaults only fill what neither set. `typed(option)` says
 * whether the user gave that flag. `--data` mounts replace the config's at the same path
 * and add to the others.
 */
export function mergeRunSettings (settings: RunSettings, where: string, opts: Record<string, any>, args: string[], typed: (option: string) => boolean): MergedRun {
  const merged: Record<string, any> = { ...opts }
  const from: Record<string, SettingSource> = {}
  for (const option of OPTION_SETTINGS) {
    const value = settings[option]
    if (typed(option)) from[option] = 'flag'
    else if (value !== undefined) {
      merged[option] = typeof value === 'number' ? String(value) : value
      from[option] = where
    } else if (opts[option] !== undefined) from[option] = 'default'
  }
  const flagData = (opts.data as string[] | undefined) ?? []
  if (settings.data != null && settings.data.length > 0) {
    const flagMounts = flagData.map(value => {
      const split = value.lastIndexOf(':/')
      return split <= 0 ? { ref: value, mount: '' } : { ref: value.slice(0, split), mount: value.slice(split + 1) }
    })
    const configMounts = settings.data.filter(m => !flagMounts.some(f => f.mount === m.mount))
    merged.data = [...configMounts.map(m => `${m.ref}:${m.mount}`), ...flagData]
    from.data = flagData.length > 0 ? `${where} + flag` : where
  } else if (flagData.length > 0) from.data = 'flag'
  let command = args
  if (args.length > 0) from.command = 'flag'
  else if (settings.command != null) {
    command = settings.command
    from.command = where
  }
  return { opts: merged, args: command, from }
}

/** The code folder's run config through the daemon (which reads it for the snapshot too); null without one. */
export async function loadRunConfig (client: ApiClient, folder: string): Promise<RunConfig | null> {
  return (await client.call('runConfig', { path: folder })).config
}

/** The settings a `floe run` in `folder` gets from its config (the task's when `task` is given), and how to name them. */
export function settingsFor (config: RunConfig | null, task: string | undefined, folder: string): { settings: RunSettings, where: string } {
  if (config == null) {
    if (task != null) throw new RunConfigError(`--task ${task}: ${folder} has no ${RUN_CONFIG_FILES.join(' or ')}; write one with a "tasks:" section (see docs/guide.md, Run config files), or run without --task`)
    return { settings: {}, where: '' }
  }
  return { settings: taskSettings(config, task), where: task == null ? config.file : `${config.file} task ${task}` }
}

/** Why there is no command to run, and how to give one. */
export function noCommandError (config: RunConfig | null, task: string | undefined, folder: string): Error {
  if (config == null) return new Error(`no command given: put it after --, e.g. floe run -- python train.py, or write "command: python train.py" in ${folder}/floe.yml`)
  const where = task == null ? `${config.file} sets no top-level command` : `${config.file}'s task ${task} sets no command (nor does the top level)`
  const tasks = Object.keys(config.tasks)
  return new Error(`no command given and ${where}: add "command: python train.py" to it, put the command after --${tasks.length > 0 && task == null ? `, or pick a task with --task (${tasks.join(', ')})` : ''}`)
}

/** The merged settings as `floe run --dry-run` prints them. */
export function settingsRows (merged: MergedRun): string[][] {
  const rows: string[][] = []
  const o = merged.opts
  const show = (label: string, key: string, value: unknown): void => {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) return
    rows.push([label, Array.isArray(value) ? value.join(' ') : String(value), merged.from[key] ?? 'default'])
  }
  show('command', 'command', merged.args.length > 0 ? merged.args : undefined)
  show('env', 'env', o.env)
  show('cpu', 'cpu', o.cpu)
  show('memory', 'memory', o.memory)
  show('gpu', 'gpu', o.gpu)
  show('gpu model', 'gpuModel', o.gpuModel)
  show('gpu memory', 'gpuMemory', o.gpuMemory)
  show('data', 'data', o.data)
  show('timeout', 'timeout', o.timeout)
  show('max price', 'maxPrice', o.maxPrice)
  show('max cost', 'maxCost', o.maxCost)
  show('network', 'network', o.network)
  show('retries', 'retries', o.retries)
  show('message', 'message', o.message === '' ? undefined : o.message)
  return rows
}

/**
 * `jobRun`'s progress, with the snapshot event (what the code folder holds and leaves out)
 * printed as one line on stderr, and a warning past the config's thresholds; the rest goes
 * to `next` (the progress bar).
 */
export function snapshotReporter (json: boolean, next: (p: Progress) => void): { onProgress: (p: Progress) => void, snapshot: () => CodeSnapshot | undefined } {
  let seen: CodeSnapshot | undefined
  return {
    onProgress: p => {
      if (p.snapshot == null) return next(p)
      seen = p.snapshot
      if (json) return
      process.stderr.write(`floe: uploading code: ${snapshotLine(p.snapshot)}\n`)
      const warning = snapshotWarning(p.snapshot)
      if (warning != null) process.stderr.write(`floe: warning: ${warning}\n`)
    },
    snapshot: () => seen
  }
}

/** `floe tasks`: the code folder's run config, its defaults and its tasks. */
export function tasksCommand (): Command {
  return new Command('tasks')
    .description("the tasks of the code folder's run config (floe.yml, else floyd.yml): run one with floe run --task NAME")
    .option('--path <dir>', 'the code folder (default: the current folder)')
    .action(action(async (client, _args, opts) => {
      const folder = resolve(opts.path ?? '.')
      const config = await loadRunConfig(client, folder)
      if (opts.json === true) return printJson({ folder, config })
      if (config == null) return printLines([`no ${RUN_CONFIG_FILES.join(' or ')} in ${folder}; see docs/guide.md, "Run config files", to write one`])
      const command = (s: RunSettings): string => s.command?.join(' ') ?? '-'
      const names = Object.keys(config.tasks)
      printLines([`${config.file} in ${folder}`, `default command: ${command(config.defaults)}`, ''])
      if (names.length === 0) return printLines(['no tasks; add them under "tasks:"'])
      printTable(['TASK', 'COMMAND', 'ENV', 'SHAPE', 'DESCRIPTION'], names.map(name => {
        const s = taskSettings(config, name)
        // only what the config sets (the rest is floe run's defaults)
        const shape = [s.cpu != null ? `${s.cpu} CPU` : null, s.memory ?? null, s.gpu != null ? `${s.gpu} GPU` : null, s.gpuModel ?? null].filter(Boolean).join(', ')
        return [name, command(s), s.env ?? '-', shape || '-', s.description ?? '']
      }))
    }))
}
