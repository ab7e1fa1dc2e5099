import { z } from 'zod'

/**
 * System metrics: what a job's container uses over time, sampled by its provider (CPU, memory,
 * the job disk, and the GPUs assigned to it where `nvidia-smi` runs) and sent to the client as
 * `system` messages on `/floe/job/1.3.0` (protocol/jobs/wire.ts). The client stores them
 * beside the log, so a finished job keeps them.
 *
 * A provider is untrusted: every sample is schema-checked on receipt (numbers bounded,
 * at most MAX_SYSTEM_GPUS GPUs), samples closer than SYSTEM_SAMPLE_MIN_GAP_MS to the one
 * before or dated in the future are dropped and counted, and a job keeps at most
 * MAX_SYSTEM_SAMPLES_PER_JOB of them (past that the series is thinned to every other sample).
 */

/** How often a provider samples a running job. */
export const SYSTEM_SAMPLE_INTERVAL_MS = 1_000
/** Samples closer than this to the one kept before are dropped: at most ~1 a second whatever a provider sends (timers jitter, hence not 1000). */
export const SYSTEM_SAMPLE_MIN_GAP_MS = 900
/** A sample dated further ahead of the client's clock than this is dropped. */
export const SYSTEM_SAMPLE_MAX_SKEW_MS = 5 * 60_000
/** One `system` message holds at most this many (a minute's worth and a little: a client that was away catches up in a few messages). */
export const MAX_SYSTEM_SAMPLES_PER_MESSAGE = 64
/** A job keeps at most this many samples (~2.8 h at 1/s; ~1 MiB); past it the series is halved by keeping every other sample. */
export const MAX_SYSTEM_SAMPLES_PER_JOB = 10_000
/** GPUs one sample may describe. */
export const MAX_SYSTEM_GPUS = 16

const Bytes = z.number().int().nonnegative().max(2 ** 53 - 1)
const Percent = z.number().min(0).max(100)

export const GpuSample = z.object({
  /** the GPU's index on the provider */
  index: z.number().int().nonnegative().max(63),
  utilPercent: Percent,
  memoryBytes: Bytes,
  memoryTotalBytes: Bytes.optional()
}).strict()
export type GpuSample = z.infer<typeof GpuSample>

export const SystemSample = z.object({
  /** milliseconds since the epoch, the provider's clock */
  at: z.number().int().nonnegative().max(2 ** 53 - 1),
  /** CPU time used since the sample before, as a percentage of the job's CPU limit (100: every CPU it was given, busy) */
  cpuPercent: Percent,
  /** memory in use (the page cache left out, as `docker stats` shows it) */
  memoryBytes: Bytes,
  /** bytes used on the job's disk (code, output, tmp); absent where the provider has no job disk */
  diskBytes: Bytes.optional(),
  /** the job's GPUs; absent when it has none or nvidia-smi does not answer */
  gpus: z.array(GpuSample).max(MAX_SYSTEM_GPUS).optional()
}).strict()
export type SystemSample = z.infer<typeof SystemSample>

/** A compact summary, for `floe status JOB`. */
export const SystemSummary = z.object({
  samples: z.number().int().nonnegative(),
  cpuAvgPercent: z.number(),
  cpuMaxPercent: z.number(),
  memoryPeakBytes: z.number(),
  diskPeakBytes: z.number().nullable(),
  gpuMaxPercent: z.number().nullable(),
  gpuMemoryPeakBytes: z.number().nullable()
}).strict()
export type SystemSummary = z.infer<typeof SystemSummary>

/**
 * Which of `samples` a client keeps: in time order, each at least SYSTEM_SAMPLE_MIN_GAP_MS
 * after the one kept before it (`lastAt`: the newest already stored, 0 for none) and not
 * dated past `now` + SYSTEM_SAMPLE_MAX_SKEW_MS. `dropped` counts the rest.
 */
export function admitSamples (lastAt: number, samples: SystemSample[], now: number): { kept: SystemSample[], dropped: number } {
  const kept: SystemSample[] = []
  let last = lastAt
  for (const sample of samples) {
    if (sample.at > now + SYSTEM_SAMPLE_MAX_SKEW_MS || sample.at < last + SYSTEM_SAMPLE_MIN_GAP_MS) continue
    kept.push(sample)
    last = sample.at
  }
  return { kept, dropped: samples.length - kept.length }
}

export function summarizeSystem (samples: SystemSample[]): SystemSummary | null {
  if (samples.length === 0) return null
  let cpuSum = 0
  let cpuMax = 0
  let memory = 0
  let disk: number | null = null
  let gpu: number | null = null
  let gpuMemory: number | null = null
  for (const s of samples) {
    cpuSum += s.cpuPercent
    cpuMax = Math.max(cpuMax, s.cpuPercent)
    memory = Math.max(memory, s.memoryBytes)
    if (s.diskBytes != null) disk = Math.max(disk ?? 0, s.diskBytes)
    for (const g of s.gpus ?? []) {
      gpu = Math.max(gpu ?? 0, g.utilPercent)
      gpuMemory = Math.max(gpuMemory ?? 0, g.memoryBytes)
    }
  }
  return {
    samples: samples.length,
    cpuAvgPercent: Math.round(cpuSum / samples.length * 10) / 10,
    cpuMaxPercent: Math.round(cpuMax * 10) / 10,
    memoryPeakBytes: memory,
    diskPeakBytes: disk,
    gpuMaxPercent: gpu,
    gpuMemoryPeakBytes: gpuMemory
  }
}

/** The arguments floe gives `nvidia-smi` (parseNvidiaSmi reads what they print). */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits']

const MiB = 1024 * 1024

/**
 * The GPUs in `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits` output (one `0, 37, 1024, 81559` line per GPU, memory in
 * MiB), those in `only` (indexes) if given. A field nvidia-smi cannot read (`[N/A]`,
 * `[Not Supported]`) reads 0; a line that is not four fields is skipped.
 */
export function parseNvidiaSmi (text: string, only?: readonly number[]): GpuSample[] {
  const gpus: GpuSample[] = []
  for (const raw of text.split('\n')) {
    const fields = raw.split(',').map(f => f.trim())
    if (fields.length !== 4 || !/^\d+$/.test(fields[0] ?? '')) continue
    const number = (f: string | undefined): number => { const n = Number(f); return Number.isFinite(n) && n >= 0 ? n : 0 }
    const index = Number(fields[0])
    if (index > 63 || (only != null && !only.includes(index))) continue
    gpus.push({
      index,
      utilPercent: Math.min(100, number(fields[1])),
      memoryBytes: Math.round(number(fields[2]) * MiB),
      memoryTotalBytes: Math.round(number(fields[3]) * MiB)
    })
    if (gpus.length >= MAX_SYSTEM_GPUS) break
  }
  return gpus
}
