import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml'
import { parseDuration, parseSize } from '../market/requirements.js'
import { DEFAULT_WARN_UPLOAD, MACHINES, MAX_RUN_CONFIG_BYTES, RunConfigError, type RunConfig, type RunSettings } from './run-settings.js'

export * from './run-settings.js'

/**
 * Run config files: `floe.yml` (or FloydHub's `floyd.yml`) in a code folder holds the
 * settings `floe run` would otherwise take as flags — defaults at the top level and named
 * tasks under `tasks:` (FloydHub's `task:` too). This module only parses (no I/O): every
 * error is one line, `FILE:LINE: what is wrong; what to write instead`.
 */

type SettingKey = keyof RunSettings
/** The keys a level may hold, as written (after `-` → `_`), and what each sets. */
const SETTING_KEYS: Record<string, SettingKey | 'machine' | 'input'> = {
  description: 'description',
  env: 'env',
  cpu: 'cpu',
  memory: 'memory',
  gpu: 'gpu',
  gpu_model: 'gpuModel',
  gpu_memory: 'gpuMemory',
  data: 'data',
  input: 'input',
  command: 'command',
  max_price: 'maxPrice',
  max_cost: 'maxCost',
  timeout: 'timeout',
  network: 'network',
  deterministic: 'deterministic',
  retries: 'retries',
  message: 'message',
  machine: 'machine'
}
const TOP_ONLY_KEYS = ['tasks', 'task', 'ignore', 'warn_upload_size', 'warn_upload_files']

/** Names people reach for, and the key floe spells them with. */
const ALIASES: Record<string, string> = {
  cpus: 'cpu', cores: 'cpu', gpus: 'gpu', mem: 'memory', ram: 'memory', environment: 'env', image: 'env',
  cmd: 'command', run: 'command', datasets: 'data', dataset: 'data', mounts: 'data', inputs: 'input',
  time_limit: 'timeout', max_time: 'timeout', price: 'max_price', budget: 'max_cost', msg: 'message',
  ignores: 'ignore', exclude: 'ignore', retry: 'retries'
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] as number
      row[j] = Math.min(here + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = here
    }
  }
  return row[b.length] as number
}

/** The known key a misspelt one most likely meant, if any is close. */
export function suggestKey (key: string, known: string[]): string | undefined {
  const alias = ALIASES[key]
  if (alias != null && known.includes(alias)) return alias
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const d = editDistance(key, candidate)
    if (d < bestDistance) { best = candidate; bestDistance = d }
  }
  return best
}

interface Context {
  file: string
  lines: LineCounter
  /** the key being read: an error about a missing value points at it */
  current?: Node
}

function lineOf (ctx: Context, node: Node | Pair | null | undefined): number {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range ??
    ((node as Pair | null)?.key as { range?: [number, number, number] } | null | undefined)?.range
  const at = range ?? (ctx.current as { range?: [number, number, number] } | undefined)?.range
  return at == null ? 1 : ctx.lines.linePos(at[0]).line
}

function fail (ctx: Context, node: Node | Pair | null | undefined, message: string): never {
  throw new RunConfigError(`${ctx.file}:${lineOf(ctx, node)}: ${message}`)
}

const show = (value: unknown): string => JSON.stringify(value)

function scalarOf (ctx: Context, node: Node | null, key: string): unknown {
  if (node == null) fail(ctx, node, `${key} has no value; give one or remove the line`)
  if (!isScalar(node)) fail(ctx, node, `${key} must be a single value, not a ${isSeq(node) ? 'list' : 'mapping'}`)
  if (node.value == null) fail(ctx, node, `${key} has no value; give one or remove the line`)
  return node.value
}

function stringOf (ctx: Context, node: Node | null, key: string, example: string): string {
  const value = scalarOf(ctx, node, key)
  if (typeof value !== 'string' && typeof value !== 'number') fail(ctx, node, `${key} must be text, e.g. ${key}: ${example}`)
  const text = String(value).trim()
  if (text === '') fail(ctx, node, `${key} is empty; e.g. ${key}: ${example}`)
  return text
}

function numberOf (ctx: Context, node: Node | null, key: string, rule: { integer?: boolean, min: number, max: number, example: string }): number {
  const value = scalarOf(ctx, node, key)
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isFinite(n) || (rule.integer === true && !Number.isInteger(n)) || n < rule.min || n > rule.max) {
    fail(ctx, node, `${key}: ${show(value)} is not ${rule.integer === true ? 'a whole number' : 'a number'} from ${rule.min} to ${rule.max}; e.g. ${key}: ${rule.example}`)
  }
  return n
}

function booleanOf (ctx: Context, node: Node | null, key: string): boolean {
  const value = scalarOf(ctx, node, key)
  if (typeof value !== 'boolean') fail(ctx, node, `${key}: ${show(value)} is not true or false; write ${key}: true or ${key}: false`)
  return value
}

function sizeOf (ctx: Context, node: Node | null, key: string): string {
  const text = stringOf(ctx, node, key, '8g')
  try {
    parseSize(text)
  } catch {
    fail(ctx, node, `${key}: ${show(text)} is not a size; write a number and a unit, e.g. ${key}: 8g or ${key}: 512m`)
  }
  return text
}

function stringList (ctx: Context, node: Node | null, key: string, example: string): Array<{ text: string, node: Node }> {
  if (node == null || !isSeq(node)) fail(ctx, node, `${key} must be a list, one "- ${example}" line per item under "${key}:"`)
  return node.items.map(item => ({ text: stringOf(ctx, item as Node, `${key} item`, example), node: item as Node }))
}

/** `REF:MOUNT` as `--data` takes it; the mount follows the last `:/` and is absolute. */
function dataMount (ctx: Context, node: Node, text: string): { ref: string, mount: string } {
  const split = text.lastIndexOf(':/')
  if (split <= 0) {
    const colon = text.lastIndexOf(':')
    if (colon > 0 && !text.slice(colon + 1).startsWith('/') && text.slice(colon + 1) !== '' && !/^\d+$/.test(text.slice(colon + 1))) {
      fail(ctx, node, `data ${show(text)}: the mount path must be absolute; write "${text.slice(0, colon)}:/${text.slice(colon + 1)}"`)
    }
    fail(ctx, node, `data ${show(text)}: expected REF:MOUNT with an absolute mount path, e.g. "mnist:3:/data" or "default/2/output:/model"`)
  }
  return { ref: text.slice(0, split), mount: text.slice(split + 1) }
}

/** FloydHub's `input: [{source, destination}]`; a relative destination is under /floyd/input, as FloydHub mounted it. */
function inputMounts (ctx: Context, node: Node | null): Array<{ ref: string, mount: string }> {
  if (node == null || !isSeq(node)) fail(ctx, node, 'input must be a list of {source, destination}, e.g. "- {source: mnist:1, destination: /data}"')
  return node.items.map(item => {
    if (!isMap(item)) fail(ctx, item as Node, 'each input is {source: REF, destination: PATH}, e.g. "- {source: mnist:1, destination: /data}"')
    let source: string | undefined
    let destination: string | undefined
    for (const pair of item.items) {
      const key = String((pair.key as Node & { value?: unknown })?.value ?? '')
      if (key === 'source') source = stringOf(ctx, pair.value as Node, 'source', 'mnist:1')
      else if (key === 'destination') destination = stringOf(ctx, pair.value as Node, 'destination', '/data')
      else fail(ctx, pair as Pair, `input: unknown key '${key}'; an input has only source and destination`)
    }
    if (source == null || destination == null) fail(ctx, item, `input needs both source and destination, e.g. "- {source: mnist:1, destination: /data}"`)
    const mount = destination.startsWith('/') ? destination : `/floyd/input/${destination}`
    return { ref: source, mount }
  })
}

function commandOf (ctx: Context, node: Node | null): string[] {
  if (node != null && isSeq(node)) {
    const args = node.items.map(item => stringOf(ctx, item as Node, 'command item', 'train.py'))
    if (args.length === 0) fail(ctx, node, 'command is an empty list; e.g. command: python train.py')
    return args
  }
  return [stringOf(ctx, node, 'command', 'python train.py')]
}

/** One level (the top, or a task): its settings, with `machine:` expanded where not overridden. */
function settingsOf (ctx: Context, map: YAMLMap, where: 'top' | 'task'): RunSettings {
  const settings: RunSettings = {}
  let machine: { cpu: number, memory: string, gpu: number } | undefined
  const known = [...Object.keys(SETTING_KEYS), ...(where === 'top' ? TOP_ONLY_KEYS : [])]
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null
    if (keyNode == null || !isScalar(keyNode) || typeof keyNode.value !== 'string') fail(ctx, pair, `keys must be names, e.g. cpu: 2; got ${show((keyNode as { value?: unknown } | null)?.value ?? null)}`)
    const written = keyNode.value
    ctx.current = keyNode
    const key = written.replace(/-/g, '_')
    const value = pair.value as Node | null
    if (where === 'top' && TOP_ONLY_KEYS.includes(key)) continue
    const setting = SETTING_KEYS[key]
    if (setting == null) {
      if (where === 'task' && TOP_ONLY_KEYS.includes(key)) {
        fail(ctx, keyNode, key === 'ignore' || key.startsWith('warn_')
          ? `'${written}' applies to the whole code folder, not one task; move it to the top level`
          : `tasks cannot hold tasks; define '${written}' at the top level only`)
      }
      const suggestion = suggestKey(key, known)
      fail(ctx, keyNode, `unknown key '${written}'; ${suggestion != null ? `did you mean '${suggestion}'?` : `the keys are ${known.join(', ')}`}`)
    }
    switch (setting) {
      case 'description': case 'env': case 'gpuModel': case 'message':
        settings[setting] = stringOf(ctx, value, written, setting === 'env' ? 'pytorch-1.13-cpu' : setting === 'gpuModel' ? 'a100' : 'text')
        break
      case 'memory': case 'gpuMemory':
        settings[setting] = sizeOf(ctx, value, written)
        break
      case 'cpu':
        settings.cpu = numberOf(ctx, value, written, { integer: true, min: 1, max: 4096, example: '4' })
        break
      case 'gpu':
        settings.gpu = numberOf(ctx, value, written, { integer: true, min: 0, max: 64, example: '1' })
        break
      case 'retries':
        settings.retries = numberOf(ctx, value, written, { integer: true, min: 0, max: 10, example: '2' })
        break
      case 'maxPrice':
        settings.maxPrice = numberOf(ctx, value, written, { min: 0, max: 1e9, example: '0.5' })
        break
      case 'maxCost':
        settings.maxCost = numberOf(ctx, value, written, { min: 0.000001, max: 1e9, example: '10' })
        break
      case 'network': case 'deterministic':
        settings[setting] = booleanOf(ctx, value, written)
        break
      case 'timeout': {
        const text = stringOf(ctx, value, written, '2h')
        try {
          parseDuration(text)
        } catch {
          fail(ctx, value, `timeout: ${show(text)} is not a duration; e.g. timeout: 2h, 90m or 3600 (seconds)`)
        }
        settings.timeout = text
        break
      }
      case 'command':
        settings.command = commandOf(ctx, value)
        break
      case 'data':
        settings.data = [...(settings.data ?? []), ...stringList(ctx, value, written, 'mnist:3:/data').map(item => dataMount(ctx, item.node, item.text))]
        break
      case 'input':
        settings.data = [...(settings.data ?? []), ...inputMounts(ctx, value)]
        break
      case 'machine': {
        const name = stringOf(ctx, value, written, 'gpu')
        machine = MACHINES[name]
        if (machine == null) fail(ctx, value, `machine: ${show(name)} is not a FloydHub machine floe knows; write one of ${Object.keys(MACHINES).join(', ')}, or cpu/memory/gpu`)
        break
      }
    }
  }
  if (machine != null) {
    return { cpu: machine.cpu, memory: machine.memory, gpu: machine.gpu, ...settings }
  }
  return settings
}

/**
 * Parses a run config's text. `file` is how errors name it (`floe.yml`). Throws
 * RunConfigError with the line of what is wrong.
 */
export function parseRunConfig (text: string, file: string): RunConfig {
  const lines = new LineCounter()
  const ctx: Context = { file, lines }
  if (text.length > MAX_RUN_CONFIG_BYTES) throw new RunConfigError(`${file}:1: the file is over ${MAX_RUN_CONFIG_BYTES / 1024} KiB; a run config holds settings, not data`)
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true })
  const yamlError = doc.errors[0]
  if (yamlError != null) {
    const line = yamlError.linePos?.[0]?.line ?? 1
    const what = yamlError.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'invalid YAML'
    throw new RunConfigError(`${file}:${line}: not valid YAML: ${what}; check the indentation and quoting on this line`)
  }
  const root = doc.contents as Node | null
  const empty: RunConfig = { file, defaults: {}, tasks: {}, ignore: [], warnUpload: { ...DEFAULT_WARN_UPLOAD } }
  if (root == null || (isScalar(root) && root.value == null)) return empty
  if (!isMap(root)) fail(ctx, root, 'a run config is a mapping of keys (env: …, command: …, tasks: …), not a list or a single value')
  const config: RunConfig = { ...empty, defaults: settingsOf(ctx, root, 'top') }
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown } | null)?.value ?? '').replace(/-/g, '_')
    const value = pair.value as Node | null
    ctx.current = pair.key as Node
    if (key === 'ignore') {
      config.ignore = value != null && isScalar(value) ? [stringOf(ctx, value, 'ignore', '*.ckpt')] : stringList(ctx, value, 'ignore', '*.ckpt').map(item => item.text)
    } else if (key === 'warn_upload_size') {
      config.warnUpload.bytes = parseSize(sizeOf(ctx, value, 'warn_upload_size'))
    } else if (key === 'warn_upload_files') {
      config.warnUpload.files = numberOf(ctx, value, 'warn_upload_files', { integer: true, min: 1, max: 1e9, example: '10000' })
    } else if (key === 'tasks' || key === 'task') {
      if (value == null || !isMap(value)) fail(ctx, value ?? pair, `${key} must be a mapping of task names to settings, e.g. "tasks:" then "  train: {command: python train.py}"`)
      for (const task of value.items) {
        const nameNode = task.key as Node | null
        const name = isScalar(nameNode) ? String(nameNode.value) : ''
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) fail(ctx, nameNode ?? task, `task name ${show(name)}: use letters, digits, '.', '_' or '-' (at most 64), e.g. train`)
        if (config.tasks[name] != null) fail(ctx, nameNode, `task '${name}' is defined twice; keep one`)
        const body = task.value as Node | null
        if (body == null || (isScalar(body) && body.value == null)) { config.tasks[name] = {}; continue }
        if (!isMap(body)) fail(ctx, body, `task '${name}' must be a mapping of settings, e.g. "  ${name}: {command: python train.py}"`)
        config.tasks[name] = settingsOf(ctx, body, 'task')
      }
    }
  }
  return config
}

