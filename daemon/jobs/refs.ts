import { InvalidJobError } from './errors.js'

/** The project jobs belong to until projects (floe init) link a folder to one. */
export const DEFAULT_PROJECT = 'default'

/** `N`, `PROJECT/N` or `OWNER/PROJECT/N` (a job), or the 32-hex job id. */
export type JobRef = { jobId: string } | { project: string, number: number }

export function parseJobRef (ref: string): JobRef {
  if (/^[0-9a-f]{32}$/.test(ref)) return { jobId: ref }
  const match = /^(?:(.+)\/)?(\d+)$/.exec(ref)
  if (match == null) throw new InvalidJobError(`"${ref}" is not a job: expected N, PROJECT/N or a job id`)
  return { project: match[1] ?? DEFAULT_PROJECT, number: Number(match[2]) }
}

/** `PROJECT/N/output` (or `N/output`): a finished job's output, as a data ref. */
export function parseJobOutputRef (ref: string): string | undefined {
  const match = /^(.+)\/output$/.exec(ref)
  if (match == null) return undefined
  const job = match[1] ?? ''
  return /^(?:.+\/)?\d+$/.test(job) || /^[0-9a-f]{32}$/.test(job) ? job : undefined
}
