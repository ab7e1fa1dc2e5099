import { CID } from 'multiformats/cid'
import { pinKey, type PinSet } from './pins.js'

/**
 * Every reason the daemon keeps a root from `floe gc`, in one place. A pin and its unpin must
 * name the very same string, or the root is kept for ever (a workspace home pinned
 * `job-input:` and never unpinned was such a leak): so reasons are only made here, and each
 * carries its `add` and `remove` side by side. The strings are stored in the index (one key
 * per root and reason, see pins.ts) and must not change, or pins written before stop matching.
 */
export interface PinReason {
  /** the reason as stored: `output:alice/mnist/7` */
  readonly text: string
  add: (pins: Pick<PinSet, 'add'>, cid: CID) => Promise<void>
  remove: (pins: Pick<PinSet, 'remove'>, cid: CID) => Promise<void>
  /**
   * Keeps `next` in place of `previous` (a newer save of a home, a republished name): the new
   * root is pinned before the old one is let go, so the content is never unpinned between.
   */
  replace: (pins: Pick<PinSet, 'add' | 'remove'>, next: CID, previous: CID | string | null | undefined) => Promise<void>
  /** the index key, for pins written in one batch with a record (datasets, project heads) */
  key: (cid: CID) => string
}

function reason (text: string): PinReason {
  return {
    text,
    add: async (pins, cid) => { await pins.add(cid, text) },
    remove: async (pins, cid) => { await pins.remove(cid, text) },
    async replace (pins, next, previous) {
      await pins.add(next, text)
      if (previous == null || previous.toString() === next.toString()) return
      await pins.remove(typeof previous === 'string' ? CID.parse(previous) : previous, text)
    },
    key: cid => pinKey(cid, text)
  }
}

const PROJECT = 'project:'

export const pinReasons = {
  // ── content a user keeps (client side) ──
  /** a dataset version: `dataset:NAME:VERSION` */
  dataset: (name: string, version: number | string) => reason(`dataset:${name}:${version}`),
  /** the roots of an imported CAR file: `car:FILE` (the file's base name) */
  car: (file: string) => reason(`car:${file}`),
  /** a project's log heads (gc keeps what they link, the whole log): `project:PID` */
  project: (pid: string) => reason(`${PROJECT}${pid}`),
  /** an environment published or built here under a name: `env:NAME` */
  environment: (name: string) => reason(`env:${name}`),
  /** an environment image fetched for a job, kept while the cache holds it: `env-cache` */
  environmentCache: () => reason('env-cache'),
  /** a submitted job's spec: `job:REF` */
  job: (ref: string) => reason(`job:${ref}`),
  /** a job's output and logs, fetched from its provider: `output:REF` */
  output: (ref: string) => reason(`output:${ref}`),
  /** a workspace's latest saved home, fetched from its provider: `workspace-home:REF` */
  workspaceHome: (ref: string) => reason(`workspace-home:${ref}`),

  // ── content a provider holds for a job it runs ──
  /** the job's code, inputs and restored home, while it runs: `job-input:JOBID` */
  jobInput: (jobId: string) => reason(`job-input:${jobId}`),
  /** the job's output (or a workspace's final home) and log, until its pickup time: `job-output:JOBID` */
  jobOutput: (jobId: string) => reason(`job-output:${jobId}`),
  /** a running workspace's latest periodic save of its home: `workspace-snapshot:JOBID` */
  workspaceSnapshot: (jobId: string) => reason(`workspace-snapshot:${jobId}`)
} as const

/** Whether an index key is a project-head pin (a project log rebuild clears them all). */
export const isProjectPinKey = (key: string): boolean => key.includes(`!${PROJECT}`)
