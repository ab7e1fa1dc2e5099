import { parseWorkspaceRef } from '../../protocol/workspaces/identity.js'
import { InvalidJobError } from './errors.js'

/**
 * `N`, `PROJECT/N`, `OWNER/PROJECT/N` (FloydHub's `OWNER/projects/PROJECT/N` too) or `PROJECT-ID/N` (a job; a bare N is in this node's
 * default project), the 32-hex job id, or a workspace: `NAME` or `PROJECT/ws/NAME` (its
 * latest run; see protocol/workspaces/identity.ts).
 */
export type JobRef = { jobId: string } | { project: string | null, number: number } | { project: string | null, workspace: string }

export function parseJobRef (ref: string): JobRef {
  if (/^[0-9a-f]{32}$/.test(ref)) return { jobId: ref }
  // FloydHub's OWNER/projects/PROJECT/N is floe's OWNER/PROJECT/N
  const match = /^(?:(.+)\/)?(\d+)$/.exec(ref.replace(/^([^/]+)\/projects\/([^/]+\/\d+)$/, '$1/$2'))
  if (match != null) return { project: match[1] ?? null, number: Number(match[2]) }
  const workspace = parseWorkspaceRef(ref)
  if (workspace != null) return { project: workspace.project, workspace: workspace.name }
  throw new InvalidJobError(`"${ref}" is not a job or a workspace: expected N, PROJECT/N, OWNER/PROJECT/N, a job id, or a workspace's NAME or PROJECT/ws/NAME`)
}

/** `PROJECT/N/output` (or `N/output`, or FloydHub's `OWNER/projects/PROJECT/N/output`): a finished job's output, as a data ref. */
export function parseJobOutputRef (ref: string): string | undefined {
  const match = /^(.+)\/output$/.exec(ref)
  if (match == null) return undefined
  const job = match[1] ?? ''
  return /^(?:.+\/)?\d+$/.test(job) || /^[0-9a-f]{32}$/.test(job) ? job : undefined
}
