import type { CID } from 'multiformats/cid'
import { admitActiveAt, idleStopAt, HOME_SAVE_WAIT_MS } from '../../protocol/jobs/workspace-activity.js'
import { WorkspaceStateError } from '../workspaces/errors.js'
import type { JobRecord } from './records.js'

/** A home a provider saved on request. */
export interface RequestedSave { home: string, bytes: number, savedAt: string }

interface Waiter { resolve: (saved: RequestedSave) => void, reject: (err: Error) => void }

/**
 * What a client daemon hears of its running workspaces over `/floe/job/1.3.0`
 * (protocol/jobs/workspace-activity.ts), kept in memory while it follows them: each one's
 * last terminal or port traffic (bounded on receipt: a provider's word, for display only),
 * and the "save home now" requests waiting for their `home-saved` or `save-refused`.
 */
export function workspaceLive () {
  const activeAt = new Map<string, number>()
  const waiting = new Map<string, Set<Waiter>>()
  const settle = (jobId: string, each: (w: Waiter) => void): void => {
    const set = waiting.get(jobId)
    waiting.delete(jobId)
    for (const waiter of set ?? []) each(waiter)
  }
  return {
    /** a provider's `activity`: kept when admitActiveAt admits it */
    activity (record: JobRecord, value: number, now = Date.now()): void {
      if (record.spec.workspace == null) return
      const started = Date.parse(record.createdAt)
      const kept = admitActiveAt(activeAt.get(record.jobId) ?? null, value, now, Number.isFinite(started) ? started : 0)
      if (kept != null) activeAt.set(record.jobId, kept)
    },
    /** when a running workspace last had traffic and when it stops for idleness, as far as its provider said */
    idle (record: Pick<JobRecord, 'jobId' | 'state' | 'spec'>): { lastActiveAt: string, idleStopAt: string } | null {
      const last = activeAt.get(record.jobId)
      const timeout = record.spec.workspace?.idleTimeoutSeconds
      if (last == null || timeout == null || record.state !== 'running') return null
      return { lastActiveAt: new Date(last).toISOString(), idleStopAt: new Date(idleStopAt(last, timeout)).toISOString() }
    },
    /** a `home-saved`: one with `requested` answers the requests waiting */
    saved (jobId: string, home: CID, bytes: number, at: number, requested: boolean): void {
      if (!requested) return
      const saved = { home: home.toString(), bytes, savedAt: new Date(at).toISOString() }
      settle(jobId, w => { w.resolve(saved) })
    },
    /** a `save-refused`: the requests waiting fail with its reason */
    refused (jobId: string, message: string): void {
      settle(jobId, w => { w.reject(new WorkspaceStateError(`the provider did not save the home: ${message}`)) })
    },
    /**
     * Sends a `save-home` (with `send`) and waits for the home it names, at most `ms`.
     * Requests made while one waits share its answer.
     */
    async request (jobId: string, send: () => Promise<void>, ms = HOME_SAVE_WAIT_MS): Promise<RequestedSave> {
      let waiter: Waiter | undefined
      const answer = new Promise<RequestedSave>((resolve, reject) => { waiter = { resolve, reject } })
      const set = waiting.get(jobId) ?? new Set<Waiter>()
      waiting.set(jobId, set)
      set.add(waiter as Waiter)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new WorkspaceStateError(`the provider named no saved home within ${Math.round(ms / 1000)} s; it may still be saving: see floe workspace history`)) }, ms)
      })
      try {
        await send()
        return await Promise.race([answer, timeout])
      } finally {
        clearTimeout(timer)
        waiting.get(jobId)?.delete(waiter as Waiter)
      }
    },
    /** the job is no longer followed: its requests fail, its activity is dropped */
    forget (jobId: string): void {
      activeAt.delete(jobId)
      settle(jobId, w => { w.reject(new WorkspaceStateError('the workspace stopped before its home was saved on request; its home is saved as its output when it stops')) })
    }
  }
}

export type WorkspaceLive = ReturnType<typeof workspaceLive>
