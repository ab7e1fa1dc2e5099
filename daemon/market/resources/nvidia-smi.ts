import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { MiB } from '../../../protocol/units.js'

export const NVIDIA_SMI = 'nvidia-smi'
export const NVIDIA_SMI_TIMEOUT_MS = 5_000
/** The fields asked of `nvidia-smi --query-gpu`, in the order parseNvidiaSmiCsv reads them. */
export const GPU_QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.total', 'memory.used', 'driver_version'] as const
export const GPU_QUERY_ARGS = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits']

const MAX_QUOTED_LINE = 120

export interface GpuInfo {
  index: number
  uuid: string
  model: string
  /** null where nvidia-smi says "[N/A]" or "[Not Supported]" */
  memoryBytes: number | null
  memoryUsedBytes: number | null
  driverVersion: string | null
  /** the highest CUDA version the driver supports; null when nvidia-smi does not say */
  cudaVersion: string | null
}

export interface GpuDetection {
  gpus: GpuInfo[]
  /** one line: why GPUs could not be listed, or what was skipped; absent when all went well */
  error?: string
}

/**
 * Runs a program and resolves with its stdout. Rejects as execFile does: `code` 'ENOENT' when
 * the program is missing, else the exit code with `stdout`/`stderr` attached, `killed` on timeout.
 */
export type RunCommand = (file: string, args: string[], options: { timeoutMs: number }) => Promise<string>

const execFileAsync = promisify(execFile)

export const runCommand: RunCommand = async (file, args, options) => {
  const { stdout } = await execFileAsync(file, args, { timeout: options.timeoutMs, maxBuffer: 4 * MiB, encoding: 'utf8', windowsHide: true })
  return stdout
}

/**
 * Parses `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits`. A line that
 * is not a GPU is skipped and named in `errors`; nothing is filled in that nvidia-smi did not say.
 */
export function parseNvidiaSmiCsv (text: string): { gpus: Array<Omit<GpuInfo, 'cudaVersion'>>, errors: string[] } {
  const gpus: Array<Omit<GpuInfo, 'cudaVersion'>> = []
  const errors: string[] = []
  const seen = new Set<string>()
  const lines = text.split(/\r?\n/)
  for (const [n, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || isNoDevices(line)) continue
    const fields = line.split(',').map(field => field.trim())
    const problem = checkFields(fields)
    if (problem != null) {
      errors.push(`line ${n + 1} ${quote(line)}: ${problem}`)
      continue
    }
    const [index, uuid, model, total, used, driver] = fields as [string, string, string, string, string, string]
    const key = `${index}/${uuid}`
    if (seen.has(index) || seen.has(uuid)) {
      errors.push(`line ${n + 1} ${quote(line)}: repeats GPU ${key}`)
      continue
    }
    seen.add(index).add(uuid)
    gpus.push({
      index: Number(index),
      uuid,
      model,
      memoryBytes: mibToBytes(total),
      memoryUsedBytes: mibToBytes(used),
      driverVersion: notAvailable(driver) ? null : driver
    })
  }
  return { gpus, errors }
}

/**
 * The CUDA version from nvidia-smi's banner (`CUDA Version: 12.4`), `nvidia-smi -q` or
 * `--version` (`CUDA Version : 12.4`), or drivers from 610 on (`CUDA UMD Version: 13.3`).
 * Null when absent or "N/A".
 */
export function parseCudaVersion (text: string): string | null {
  const umd = /CUDA UMD Version\s*:\s*(\d+\.\d+(?:\.\d+)?)\b/.exec(text)
  if (umd?.[1] != null) return umd[1]
  const legacy = /CUDA Version\s*:\s*(\d+\.\d+(?:\.\d+)?)\b/.exec(text)
  return legacy?.[1] ?? null
}

/**
 * The GPUs nvidia-smi sees. No nvidia-smi on this machine means no NVIDIA GPUs to share, which
 * is not an error; an nvidia-smi that fails (no driver loaded, a GPU fallen off the bus) is.
 */
export async function detectGpus (options: { run?: RunCommand, timeoutMs?: number } = {}): Promise<GpuDetection> {
  const run = options.run ?? runCommand
  const timeoutMs = options.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS
  const [query, banner] = await Promise.allSettled([
    run(NVIDIA_SMI, GPU_QUERY_ARGS, { timeoutMs }),
    run(NVIDIA_SMI, [], { timeoutMs })
  ])
  if (query.status === 'rejected') {
    const err = query.reason
    if (err?.code === 'ENOENT') return { gpus: [] }
    if (isNoDevices(outputOf(err))) return { gpus: [] }
    return { gpus: [], error: failureLine(err, timeoutMs) }
  }
  const parsed = parseNvidiaSmiCsv(query.value)
  const errors = parsed.errors.length === 0 ? [] : [`skipped ${parsed.errors.length} line(s) of nvidia-smi output that are not GPUs: ${parsed.errors.join('; ')}`]
  let cudaVersion: string | null = null
  if (banner.status === 'fulfilled') {
    cudaVersion = parseCudaVersion(banner.value)
  } else if (parsed.gpus.length > 0) {
    errors.push(`CUDA version unknown: ${failureLine(banner.reason, timeoutMs)}`)
  }
  const gpus = parsed.gpus.map(gpu => ({ ...gpu, cudaVersion }))
  return errors.length === 0 ? { gpus } : { gpus, error: errors.join('; ') }
}

function checkFields (fields: string[]): string | null {
  if (fields.length !== GPU_QUERY_FIELDS.length) return `expected ${GPU_QUERY_FIELDS.length} comma-separated fields (${GPU_QUERY_FIELDS.join(', ')}), got ${fields.length}`
  const [index, uuid, model, total, used] = fields as [string, string, string, string, string]
  if (!/^\d{1,3}$/.test(index)) return `index ${quote(index)} is not a number`
  if (!/^GPU-\S+$/.test(uuid)) return `uuid ${quote(uuid)} is not a GPU UUID`
  if (model === '' || notAvailable(model)) return 'no GPU name'
  if (!notAvailable(total) && !/^\d+$/.test(total)) return `memory.total ${quote(total)} is not a number of MiB`
  if (!notAvailable(used) && !/^\d+$/.test(used)) return `memory.used ${quote(used)} is not a number of MiB`
  return null
}

/** nvidia-smi writes "[N/A]", "[Not Supported]", "[Unknown Error]"… where it has no value. */
function notAvailable (field: string): boolean {
  return /^\[.*\]$/.test(field) || field === 'N/A'
}

function mibToBytes (field: string): number | null {
  if (notAvailable(field)) return null
  const bytes = Number(field) * MiB
  return Number.isSafeInteger(bytes) ? bytes : null
}

function isNoDevices (text: string): boolean {
  return /^No devices were found\s*$/m.test(text)
}

function outputOf (err: any): string {
  return `${typeof err?.stdout === 'string' ? err.stdout : ''}\n${typeof err?.stderr === 'string' ? err.stderr : ''}`
}

/** The first line nvidia-smi printed when it failed (it writes its reasons to stdout), else why it did not run. */
function failureLine (err: any, timeoutMs: number): string {
  if (err?.killed === true || err?.signal === 'SIGTERM') return `nvidia-smi did not answer within ${timeoutMs / 1000} s`
  const line = outputOf(err).split(/\r?\n/).map(text => text.trim()).find(text => text !== '')
  if (line != null) return line
  const message = String(err?.message ?? err).split('\n')[0] ?? ''
  return message === '' ? 'nvidia-smi failed' : message
}

function quote (text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_LINE ? `${text.slice(0, MAX_QUOTED_LINE)}…` : text)
}
