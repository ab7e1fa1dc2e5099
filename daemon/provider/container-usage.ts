import type { Container } from 'dockerode'

/** The parts of the engine's stats floe reads (cgroup v1 or v2). */
export interface ContainerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } }
  memory_stats?: { usage?: number, max_usage?: number, stats?: Record<string, number | undefined> }
}

export interface Usage {
  cpuSeconds: number
  peakMemoryBytes: number
}

/**
 * What a container used, from samples of the engine's stats taken while it runs. Both figures
 * are the largest seen: CPU time is a running total, so its largest sample is its last useful
 * one (a sample taken as the container exits reads zeros once its cgroup is gone), and the
 * memory peak is the cgroup's own high-water mark (`max_usage`, cgroup v1) where the engine
 * reports one, else the usage at the sample. A job that ends before its first sample reports
 * zeros: the cgroup, and its counters, are removed when the container stops.
 */
export class UsageMeter {
  private cpuNanoseconds = 0
  private peakMemoryBytes = 0

  /** Takes a sample; returns the engine's stats, for whoever wants more of them (system-sampler.ts). */
  async sample (container: Container): Promise<ContainerStats> {
    // `one-shot` answers at once; without it the engine waits a second to fill in `precpu_stats`.
    const stats = await container.stats({ stream: false, 'one-shot': true })
    const cpu = stats.cpu_stats?.cpu_usage?.total_usage
    if (typeof cpu === 'number' && cpu > this.cpuNanoseconds) this.cpuNanoseconds = cpu
    const memory = stats.memory_stats?.max_usage ?? stats.memory_stats?.usage
    if (typeof memory === 'number' && memory > this.peakMemoryBytes) this.peakMemoryBytes = memory
    return stats as ContainerStats
  }

  get usage (): Usage {
    return { cpuSeconds: this.cpuNanoseconds / 1e9, peakMemoryBytes: this.peakMemoryBytes }
  }
}
