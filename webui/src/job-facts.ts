/** Facts about a job the compare, running-now and spend views show: its machine shape, its cost so far. */
import type { JobSpecView } from '../../protocol/jobs/spec.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { isFinal } from '../../protocol/jobs/job.js'
import { formatSize } from '../../protocol/market/requirements.js'

/** `2 CPU · 4 GiB · 1 GPU (a100)` */
export function shapeOf (spec: Pick<JobSpecView, 'resources'>): string {
  const r = spec.resources
  const gpu = r.gpus > 0 ? ` · ${r.gpus} GPU${r.gpuModel != null ? ` (${r.gpuModel})` : ''}` : ''
  return `${r.cpus} CPU · ${formatSize(r.memoryBytes)}${gpu}`
}

/** When the job started running on its provider, in ms; undefined before. */
export function runningSince (job: Pick<JobView, 'states'>): number | undefined {
  const at = job.states.find(s => s.state === 'running')?.at
  return at == null ? undefined : Date.parse(at)
}

/**
 * What the job has cost so far: its receipt's cost once it ended; while it runs, its price
 * for the time it has run (what the provider bills by), never less than what was promised.
 */
export function costSoFar (job: Pick<JobView, 'receipt' | 'state' | 'states' | 'pricePerHour' | 'promised'>, now = Date.now()): number | undefined {
  if (job.receipt != null) return job.receipt.cost
  const since = runningSince(job)
  if (isFinal(job.state) || since == null || job.pricePerHour == null) return job.promised ?? undefined
  return Math.max(job.pricePerHour * Math.max(0, now - since) / 3_600_000, job.promised ?? 0)
}

export const isWorkspace = (job: Pick<JobView, 'spec'>): boolean => job.spec.workspace != null
