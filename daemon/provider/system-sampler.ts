import { execFile } from 'node:child_process'
import { statfs } from 'node:fs/promises'
import { promisify } from 'node:util'
import { MAX_SYSTEM_GPUS, NVIDIA_SMI_ARGS, parseNvidiaSmi, type GpuSample, type SystemSample } from '../../protocol/jobs/system-metrics.js'
import type { Logger } from '../log.js'
import type { ContainerStats } from './container-usage.js'
import { wake, type LiveJob } from './live-job.js'

const exec = promisify(execFile)

/** Samples a provider holds per job to send (a client that reattaches gets these; it stores the whole series). */
export const SYSTEM_SAMPLES_HELD = 600
/** nvidia-smi answers in ~20 ms on a healthy machine; one that hangs is given up for the job. */
const NVIDIA_SMI_TIMEOUT_MS = 2_000

/** The samples a live job holds for its followers: the newest SYSTEM_SAMPLES_HELD, and how many were ever taken. */
export interface HeldSamples {
  samples: SystemSample[]
  total: number
}

/** The samples after the `after`th (counted over the job's life), as many as are still held. */
export function samplesAfter (held: HeldSamples | undefined, after: number): SystemSample[] {
  if (held == null || held.total <= after) return []
  return held.samples.slice(Math.max(0, held.samples.length - (held.total - after)))
}

export interface SystemSamplerOptions {
  /** the job's CPU limit: CPU % is of it */
  cpus: number
  /** the job disk's mount point (statfs is a system call: cheap enough each second) */
  diskMount?: string
  /** the GPU indexes assigned to the job (none: no nvidia-smi) */
  gpus: readonly number[]
  log?: Pick<Logger, 'debug'>
}

/**
 * Turns the engine's stats (taken each second by the executor for the usage meter) into a
 * job's system samples: CPU % from the CPU time used between two samples, memory without the
 * page cache, the job disk's used bytes, and GPU utilisation and memory where nvidia-smi runs.
 * A GPU read that fails turns GPU sampling off for the job (no retry each second).
 */
export function systemSampler (job: LiveJob, options: SystemSamplerOptions) {
  let previous: { cpuNs: number, at: number } | undefined
  let gpuReadable = options.gpus.length > 0
  let busy = false

  const gpuSample = async (): Promise<GpuSample[] | undefined> => {
    if (!gpuReadable) return undefined
    try {
      const { stdout } = await exec('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: NVIDIA_SMI_TIMEOUT_MS })
      return parseNvidiaSmi(stdout, options.gpus).slice(0, MAX_SYSTEM_GPUS)
    } catch (err: any) {
      gpuReadable = false
      options.log?.debug({ jobId: job.record.jobId, err: err?.message }, 'nvidia-smi does not answer: no GPU samples for this job')
      return undefined
    }
  }

  const diskSample = async (): Promise<number | undefined> => {
    if (options.diskMount == null) return undefined
    try {
      const fs = await statfs(options.diskMount)
      return Math.max(0, (fs.blocks - fs.bfree) * fs.bsize)
    } catch {
      return undefined // the disk is unmounted as the job ends
    }
  }

  return {
    /** the stats of one usage sample (executor.ts onStats); the sample joins the job's held ones */
    onStats (stats: ContainerStats, at: number, startedAt: number): void {
      const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage
      const memory = stats.memory_stats
      // a sample taken as the container exits reads zeros: its cgroup is gone
      if (typeof cpuNs !== 'number' || cpuNs === 0 || memory?.usage == null) return
      // The first sample counts from the container's start (its CPU time was zero then): a
      // short window, but under gVisor the engine can take seconds to answer each stats call
      // (measured here: 2.3 s on a loaded machine), so a short job may get no second chance.
      const before = previous ?? (startedAt > 0 && startedAt < at ? { cpuNs: 0, at: startedAt } : undefined)
      previous = { cpuNs, at }
      if (before == null || at - before.at < (before.cpuNs === 0 ? 20 : 200) || busy) return
      const cpuPercent = Math.min(100, Math.max(0, (cpuNs - before.cpuNs) / 1e6 / (at - before.at) / options.cpus * 100))
      const cache = memory.stats?.cache ?? memory.stats?.inactive_file ?? 0
      const memoryBytes = Math.max(0, Math.round(memory.usage - cache))
      busy = true
      void Promise.all([diskSample(), gpuSample()]).then(([diskBytes, gpus]) => {
        const sample: SystemSample = {
          at,
          cpuPercent: Math.round(cpuPercent * 10) / 10,
          memoryBytes,
          ...(diskBytes != null ? { diskBytes } : {}),
          ...(gpus != null && gpus.length > 0 ? { gpus } : {})
        }
        const held = job.system ??= { samples: [], total: 0 }
        held.samples.push(sample)
        held.total++
        if (held.samples.length > SYSTEM_SAMPLES_HELD) held.samples.splice(0, held.samples.length - SYSTEM_SAMPLES_HELD)
        wake(job)
      }).finally(() => { busy = false })
    }
  }
}
