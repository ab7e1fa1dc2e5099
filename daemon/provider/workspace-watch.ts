import type Docker from 'dockerode'
import type { JobSpec } from '../../protocol/jobs/spec.js'
import { HOME_SAVED } from '../../protocol/workspaces/tunnel.js'
import type { ImportSummary } from '../content/index.js'
import { HOME_SAVE_MIN_GAP_MS } from '../../protocol/jobs/workspace-activity.js'
import { pinReasons } from '../store/pin-reasons.js'
import type { ImportJobFolderComponents } from './import-job-folder.js'
import { saveWorkspace } from './workspace-save.js'
import { systemLine, type JobTable, type LiveJob } from './live-job.js'
import type { ProviderJobsComponents } from './provider-jobs.js'

/** How often a running workspace checks whether it is idle or due a save of its home. */
const WORKSPACE_TICK_MS = 1_000

export type WorkspaceWatchComponents = ImportJobFolderComponents & Pick<ProviderJobsComponents, 'guard' | 'pins' | 'log'> & {
  table: Pick<JobTable, 'records'>
}

/**
 * While a workspace runs: its home and /code saved every `snapshotSeconds` (a system line names each
 * save, so the client fetches and keeps it: a crash here loses at most one interval), and
 * the workspace stopped, home saved, after `idleTimeoutSeconds` without terminal or port
 * traffic (`touch` of workspaceAccess). This lives on the provider's side, not in
 * daemon/workspaces/ (the client's): the provider never imports the client side.
 */
export function watchWorkspace (components: WorkspaceWatchComponents, job: LiveJob, folders: { home: string, code: string }, docker: Pick<Docker, 'getContainer'>): { stop: () => void } {
  const { log } = components
  const spec = job.spec.workspace as NonNullable<JobSpec['workspace']>
  const snapshot = pinReasons.workspaceSnapshot(job.record.jobId)
  job.activeAt = Date.now()
  const gate = job.gate
  let saving = false
  let lastSave = Date.now()
  /** a save asked for by the client (`save-home`, 1.3.0), done by the next tick like a periodic one */
  let requested = false
  let lastRequest = 0
  job.saveHome = () => {
    const now = Date.now()
    if (job.cancel.signal.aborted || job.record.state !== 'running') return `the workspace is ${job.cancel.signal.aborted ? 'stopping' : job.record.state}, not running: a stopped one saved its home as its output`
    const wait = lastRequest + HOME_SAVE_MIN_GAP_MS - now
    // a hostile client must not keep the provider saving (each save pauses the container and walks the home)
    if (wait > 0) return `a save was asked for ${Math.round((now - lastRequest) / 1000)} s ago; this provider saves on request at most once every ${HOME_SAVE_MIN_GAP_MS / 1000} s: try again in ${Math.ceil(wait / 1000)} s`
    lastRequest = now
    requested = true
    return null
  }
  const tick = async (): Promise<void> => {
    const now = Date.now()
    if (now - job.activeAt > spec.idleTimeoutSeconds * 1000 && !job.cancel.signal.aborted) {
      // ended like a stop by its client: the run concludes it, saving its home as the output
      job.stopReason = `stopped: idle for ${spec.idleTimeoutSeconds} s (no terminal or port traffic)`
      systemLine(job, job.stopReason)
      job.cancel.abort(new Error(job.stopReason))
      return
    }
    if (saving || (!requested && now - lastSave < spec.snapshotSeconds * 1000)) return
    saving = true
    // taken before the save starts: what is written after the request is in this save
    const onRequest = requested
    requested = false
    try {
      // Frozen while its home is read: nothing in the container can change what is walked.
      // A terminal or port opened meanwhile waits for this (an exec into a paused container
      // fails), and this waits for one being opened.
      const container = docker.getContainer(job.record.containerId as string)
      const imported: ImportSummary = await gate.freeze(async () => {
        await container.pause()
        try {
          return await saveWorkspace(components, folders)
        } finally {
          await container.unpause()
        }
      })
      // the newest save pinned before the one before it is let go (conclude-job.ts unpins the last)
      const saved = await components.guard.shared(async () => {
        await snapshot.replace(components.pins, imported.cid, job.record.snapshot)
        return imported
      })
      job.record.snapshot = saved.cid.toString()
      await components.table.records.put(job.record)
      lastSave = Date.now()
      // the client hears it as a typed `home-saved` (1.1.0), and as this line (a 1.0.0 client)
      job.home = { home: saved.cid, bytes: saved.bytes, at: Date.now(), ...(onRequest ? { requested: true as const } : {}) }
      systemLine(job, `${HOME_SAVED} ${saved.cid.toString()} (${saved.bytes} bytes)`)
    } catch (err) {
      // a requested save that failed is asked for again by the next tick
      if (onRequest) requested = true
      throw err
    } finally {
      saving = false
    }
  }
  const timer = setInterval(() => { tick().catch((err: Error) => { log.warn({ jobId: job.record.jobId, err: err.message }, 'could not save the workspace home') }) }, WORKSPACE_TICK_MS)
  return { stop: () => { clearInterval(timer); job.saveHome = undefined } }
}

export interface WorkspaceAccess {
  containerId: string
  /**
   * a batch job that serves ports (`floe run --serve`): only these ports may be reached, and
   * no terminal or process opened; absent for a workspace, where anything may
   */
  servedPorts?: readonly number[]
  /** counts traffic: what keeps the workspace from its idle stop */
  touch: () => void
  /** runs an engine call that a pause for a save of its home would fail */
  unfrozen: <T>(fn: () => Promise<T>) => Promise<T>
}

/**
 * A running workspace, for a terminal or a forwarded port: its container, and `touch` to
 * count traffic (what keeps it from the idle stop above). Undefined when it is not a
 * running workspace, or is being stopped.
 */
export function workspaceAccess (job: LiveJob): WorkspaceAccess | undefined {
  if (job.spec.workspace == null) return undefined
  if (job.record.state !== 'running' || job.record.containerId == null || job.cancel.signal.aborted) return undefined
  job.activeAt = Date.now()
  return {
    containerId: job.record.containerId,
    touch: () => { job.activeAt = Date.now() },
    unfrozen: async fn => await job.gate.unfrozen(fn)
  }
}

/**
 * A running batch job that serves ports (its signed spec's `serve`), for a forwarded port to
 * one of them: its container, and nothing else (no terminal, no process). Undefined when it
 * serves none, or does not run.
 */
export function servedAccess (job: LiveJob): WorkspaceAccess | undefined {
  if (job.spec.workspace != null || job.spec.serve == null || job.spec.serve.length === 0) return undefined
  if (job.record.state !== 'running' || job.record.containerId == null || job.cancel.signal.aborted) return undefined
  return {
    containerId: job.record.containerId,
    servedPorts: job.spec.serve,
    touch: () => {},
    unfrozen: async fn => await job.gate.unfrozen(fn)
  }
}
