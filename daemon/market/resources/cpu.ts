import { availableParallelism, cpus } from 'node:os'

export interface CpuInfo {
  /** as the kernel names it; null where the platform does not say */
  model: string | null
  /** logical cores this process may run on (its CPU affinity), never fewer than one */
  cores: number
}

type CpuSource = { cpus: typeof cpus, availableParallelism: typeof availableParallelism }

/** The CPU model and the logical cores this daemon may schedule work on. */
export function detectCpu (source: CpuSource = { cpus, availableParallelism }): CpuInfo {
  const model = source.cpus()[0]?.model.trim() ?? ''
  return {
    // Some kernels and emulators report no model (or the word "unknown"): say so, don't guess.
    model: model === '' || model.toLowerCase() === 'unknown' ? null : model,
    cores: source.availableParallelism()
  }
}
