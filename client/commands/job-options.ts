import { Option, type Command } from 'commander'
import { parseSize, type RequirementsInput } from '../../protocol/market/requirements.js'

/**
 * The options `floe run` and `floe rerun` share, declared once. `run` gives every one its
 * default; `rerun` gives none, since an option left out keeps what the job had.
 */
export type JobOptionsFor = 'run' | 'rerun'

interface SharedOption {
  flags: string
  description: string
  /** run's default; rerun has none */
  runDefault?: string
  /** what rerun says instead, where the meaning differs */
  rerunDescription?: string
  /** a repeatable option: each value is collected */
  repeatable?: true
}

const SHARED_OPTIONS: SharedOption[] = [
  { flags: '--env <name>', description: 'environment', runDefault: 'busybox' },
  { flags: '--cpu <n>', description: 'CPU cores', runDefault: '1' },
  { flags: '--memory <size>', description: 'memory, e.g. 4g', runDefault: '1g' },
  { flags: '--gpu [n]', description: 'GPUs (a bare --gpu is one, as FloydHub\'s flag)', runDefault: '0' },
  { flags: '--gpu-model <model>', description: 'GPU model (substring, any case)' },
  { flags: '--gpu-memory <size>', description: 'at least this much memory on each GPU' },
  {
    flags: '--data <ref:mount>',
    description: "mount a dataset (NAME[:N], another owner's OWNER/NAME[:N], or a CID) or a job output (PROJECT/N/output) read-only; repeatable",
    rerunDescription: "mount these instead of the job's inputs (NAME[:N], CID or PROJECT/N/output); repeatable",
    repeatable: true
  },
  { flags: '--timeout <duration>', description: 'time limit, e.g. 2h (the job is killed past it)', runDefault: '1h' },
  { flags: '--max-price <credits>', description: 'most to pay per hour' },
  { flags: '--provider <peer>', description: 'run on this provider only' },
  { flags: '--retries <n>', description: 'times to retry on another provider when one is lost', runDefault: '0' },
  { flags: '-m, --message <message>', description: 'a note for this job', runDefault: '' },
  { flags: '--network', description: 'the job needs the network' },
  { flags: '--deterministic', description: 'the same spec gives the same output: floe rerun --reuse may return it without running', rerunDescription: 'mark the new job deterministic' },
  { flags: '--follow', description: "stream the log and exit with the job's exit code" }
]

/** Adds the options run and rerun share to `command`, as `which` takes them. */
export function addJobOptions (command: Command, which: JobOptionsFor): Command {
  for (const shared of SHARED_OPTIONS) {
    const option = new Option(shared.flags, which === 'rerun' ? shared.rerunDescription ?? shared.description : shared.description)
    if (shared.repeatable === true) option.argParser((value: string, all: string[] = []) => [...all, value]).default([])
    else if (which === 'run' && shared.runDefault !== undefined) option.default(shared.runDefault)
    command.addOption(option)
    // a rerun of a job that had the network can take it away again
    if (which === 'rerun' && shared.flags === '--network') command.addOption(new Option('--no-network', 'the new job runs without the network'))
  }
  return command
}

/** The shared options as commander parsed them (strings, as given). */
export interface JobOptionValues {
  cpu?: string
  memory?: string
  gpu?: string | boolean
  gpuModel?: string
  gpuMemory?: string
  network?: boolean
  [other: string]: unknown
}

/**
 * A number option's value, or one line naming the option and an example: `--gpu abc` →
 * `--gpu abc: expected a number, e.g. --gpu 1`. A bare flag (`--gpu` with no value) is 1.
 */
export function numberOption (flag: string, value: string | boolean, example: string, options: { integer?: boolean } = {}): number {
  if (value === true) return 1
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isFinite(n) || n < 0 || (options.integer === true && !Number.isInteger(n))) {
    throw new Error(`${flag} ${String(value)}: expected ${options.integer === true ? 'a whole number' : 'a number'}, e.g. ${flag} ${example}`)
  }
  return n
}

/** `--memory 4x` → one line naming the option and an example */
function sizeOption (flag: string, value: string): number {
  try {
    return parseSize(value)
  } catch (err: any) {
    throw new Error(`${flag} ${value}: ${String(err?.message ?? err).replace(/^"[^"]*" (is )?/, '')}`)
  }
}

/** `--gpu "python train.py"` (FloydHub's bare flag before a quoted command): the value was the command */
const gpuCount = (value: string | boolean | undefined): number => {
  try {
    return numberOption('--gpu', value ?? '0', '1', { integer: true })
  } catch (err: any) {
    if (typeof value === 'string' && /[A-Za-z]/.test(value)) throw new Error(`${err.message as string}; a bare --gpu is one GPU, with the job's command after --: --gpu -- ${value}`)
    throw err
  }
}

/** `run`'s requirements: the whole shape (every option has its default there). */
export function requirementsOf (opts: JobOptionValues): RequirementsInput {
  const gpus = gpuCount(opts.gpu)
  return {
    cpus: numberOption('--cpu', opts.cpu ?? '', '2'),
    memoryBytes: sizeOption('--memory', opts.memory ?? ''),
    // a GPU model asks for one GPU at least
    gpus: opts.gpuModel != null && gpus === 0 ? 1 : gpus,
    ...(opts.gpuModel != null ? { gpuModel: opts.gpuModel } : {}),
    ...(opts.gpuMemory != null ? { minGpuMemoryBytes: sizeOption('--gpu-memory', opts.gpuMemory) } : {}),
    ...(opts.network === true ? { network: true } : {})
  }
}

/**
 * `requirements` for rerun and workspace restart: only the parts of the shape given as
 * --cpu, --memory, --gpu, --gpu-model, --gpu-memory and --network/--no-network (the rest
 * stays as it was); none when none is given.
 */
export function requirementChanges (opts: JobOptionValues): { requirements?: Partial<RequirementsInput> } {
  const requirements = {
    ...(opts.cpu != null ? { cpus: numberOption('--cpu', opts.cpu, '2') } : {}),
    ...(opts.memory != null ? { memoryBytes: sizeOption('--memory', opts.memory) } : {}),
    ...(opts.gpu != null ? { gpus: gpuCount(opts.gpu) } : {}),
    ...(opts.gpuModel != null ? { gpuModel: opts.gpuModel } : {}),
    ...(opts.gpuMemory != null ? { minGpuMemoryBytes: sizeOption('--gpu-memory', opts.gpuMemory) } : {}),
    ...(opts.network != null ? { network: opts.network } : {})
  }
  return Object.keys(requirements).length > 0 ? { requirements } : {}
}
