import { readFile } from 'node:fs/promises'
import { parseDuration, parseSize } from '../../protocol/market/requirements.js'
import { Config, ProviderSettings, saveConfig } from '../config/index.js'

export class InvalidSettingError extends Error {
  override name = 'InvalidSettingError'
}

/** `floe provider set KEY VALUE`: the keys, each with what its value looks like. */
export const SETTING_KEYS: Readonly<Record<string, string>> = {
  cpus: 'CPU cores shared, or "all"',
  memory: 'memory shared, e.g. 16g, or "auto" (three quarters of the machine\'s)',
  gpus: 'GPUs shared: "all", "none", or indexes like 0,1',
  'price.cpu': 'credits per CPU core per hour',
  'price.memory': 'credits per GiB of memory per hour',
  'price.gpu.MODEL': 'credits per GPU of that model per hour ("*" for every other model; "off" to stop offering it)',
  'max-jobs': 'jobs run at once',
  'max-duration': 'longest job, e.g. 12h',
  network: 'whether jobs may use the network: on or off',
  allow: 'peers that may submit jobs, comma-separated ("" for anyone not denied)',
  deny: 'peers that may not submit jobs, comma-separated',
  'max-output': 'the most a job may leave in /output, e.g. 10g',
  scratch: 'each job\'s disk beside /output (its code copy, /tmp), a hard limit, e.g. 2g',
  'max-files': 'files and folders a job may create, and its code, inputs or home may hold, e.g. 500000',
  runtime: 'container runtime for jobs: auto (runsc when installed), runsc (gVisor) or runc',
  'max-input-cache': 'the most job inputs kept on disk for mounting, e.g. 20g (least recently used go first)',
  'keep-output': 'how long a finished job\'s output is kept for its client to pick up, e.g. 24h',
  'accept-environments': 'whether jobs may bring environments this node lacks (fetched and loaded): on or off',
  'max-environments-disk': 'the most environments fetched for jobs may take, e.g. 20g (least recently used go first)',
  metering: 'how often a running job\'s usage is stated to its client, who answers with a voucher, e.g. 10s',
  'voucher-grace': 'how long without a voucher before a job is paused (and after as long again, stopped), e.g. 30s'
}

function price (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidSettingError(`"${value}" is not a price: use a number of credits per hour, 0 or more`)
  return n
}

function positiveInt (value: string, what: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidSettingError(`"${value}" is not a valid ${what}: use a whole number, 1 or more`)
  return n
}

function onOff (value: string): boolean {
  if (['on', 'true', 'yes'].includes(value.toLowerCase())) return true
  if (['off', 'false', 'no'].includes(value.toLowerCase())) return false
  throw new InvalidSettingError(`"${value}" is not on or off`)
}

function gpuList (value: string): ProviderSettings['gpus'] {
  if (value === 'all') return 'all'
  if (value === 'none') return []
  const parts = value.split(',').map(p => p.trim())
  if (parts.some(p => !/^\d{1,2}$/.test(p))) throw new InvalidSettingError(`"${value}" is not "all", "none" or GPU indexes like 0,1`)
  return [...new Set(parts.map(Number))].sort((a, b) => a - b)
}

function peers (value: string): string[] {
  return value.split(',').map(p => p.trim()).filter(p => p !== '')
}

/** Applies one `KEY VALUE` to provider settings, checking it; returns the new settings. */
export function applySetting (settings: ProviderSettings, key: string, value: string): ProviderSettings {
  const next: ProviderSettings = structuredClone(settings)
  try {
    if (key === 'cpus') next.cpus = value === 'all' ? null : positiveInt(value, 'CPU count')
    else if (key === 'memory') next.memoryBytes = value === 'auto' ? null : parseSize(value)
    else if (key === 'gpus') next.gpus = gpuList(value)
    else if (key === 'price.cpu') next.prices.perCpuHour = price(value)
    else if (key === 'price.memory') next.prices.perGiBHour = price(value)
    else if (key.startsWith('price.gpu.') && key.length > 'price.gpu.'.length) {
      const model = key.slice('price.gpu.'.length)
      if (value === 'off') delete next.prices.perGpuHour[model]
      else next.prices.perGpuHour[model] = price(value)
    } else if (key === 'max-jobs') next.maxConcurrentJobs = positiveInt(value, 'job count')
    else if (key === 'max-duration') next.maxJobSeconds = parseDuration(value)
    else if (key === 'network') next.network = onOff(value)
    else if (key === 'allow') next.allow = peers(value)
    else if (key === 'deny') next.deny = peers(value)
    else if (key === 'max-output') next.maxOutputBytes = parseSize(value)
    else if (key === 'max-input-cache') next.maxInputCacheBytes = parseSize(value)
    else if (key === 'scratch') next.scratchBytes = parseSize(value)
    else if (key === 'max-files') next.maxJobFiles = positiveInt(value, 'file count')
    else if (key === 'runtime') {
      if (value !== 'auto' && value !== 'runsc' && value !== 'runc') throw new InvalidSettingError(`"${value}" is not a runtime: use auto, runsc or runc`)
      next.runtime = value
    }
    else if (key === 'keep-output') next.keepOutputSeconds = parseDuration(value)
    else if (key === 'accept-environments') next.acceptEnvironments = onOff(value)
    else if (key === 'max-environments-disk') next.maxEnvironmentsBytes = parseSize(value)
    else if (key === 'metering') next.meteringSeconds = parseDuration(value)
    else if (key === 'voucher-grace') next.voucherGraceSeconds = parseDuration(value)
    else throw new InvalidSettingError(`unknown setting "${key}"; the settings are: ${Object.keys(SETTING_KEYS).join(', ')}`)
  } catch (err: any) {
    if (err?.name === 'InvalidSettingError') throw err
    throw new InvalidSettingError(`${key}: ${err?.message ?? err}`)
  }
  const parsed = ProviderSettings.safeParse(next)
  if (!parsed.success) throw new InvalidSettingError(`${key}: ${parsed.error.issues.map(i => i.message).join('; ')}`)
  return parsed.data
}

export interface ProviderSettingsStore {
  get(): ProviderSettings
  setEnabled(enabled: boolean): Promise<ProviderSettings>
  set(key: string, value: string): Promise<ProviderSettings>
}

/**
 * Provider settings at run time: `floe provider on|off|set` change them and write them back
 * to config.json (only its `provider` part: flags given for this run are not persisted).
 * `enabledOverride` is `floe daemon --provider`, for this run.
 */
export function providerSettingsStore (options: { configPath: string, initial: ProviderSettings, enabledOverride?: boolean }): ProviderSettingsStore {
  let current: ProviderSettings = { ...options.initial, enabled: options.enabledOverride ?? options.initial.enabled }
  const persist = async (next: ProviderSettings): Promise<ProviderSettings> => {
    const onDisk = Config.parse(JSON.parse(await readFile(options.configPath, 'utf8')))
    await saveConfig(options.configPath, { ...onDisk, provider: next })
    current = next
    return current
  }
  return {
    get: () => current,
    setEnabled: async enabled => await persist({ ...current, enabled }),
    set: async (key, value) => await persist(applySetting(current, key, value))
  }
}
