import { z } from 'zod'
import { JobState } from '../jobs/job.js'
import { JobView } from '../jobs/view.js'
import { Requirements } from '../market/requirements.js'
import { NOTEBOOK_MODES } from '../workspaces/notebook.js'
import { defineRoute } from './route.js'
import { AbsolutePath, DataRef, JobRef, PeerIdString, ProjectRef, Progress } from './schemas.js'

const PREFIX = '/api/v1'

/** The terminal's WebSocket: `?ref=&cols=&rows=[&command=JSON array]` (see daemon/api/shell-socket.ts). */
export const SHELL_PATH = `${PREFIX}/workspaces/shell`

/**
 * The largest frame the terminal's WebSocket takes: four tunnel pieces (32 KiB each), so one
 * frame is never more than the tunnel's window holds in flight. A larger frame closes the
 * socket with 1009.
 */
export const SHELL_MAX_FRAME_BYTES = 128 * 1024
/**
 * Terminal input is sent in frames of at most this (the web UI and `floe shell` split pastes):
 * well under SHELL_MAX_FRAME_BYTES, and small enough that a paste does not hold up keystrokes.
 */
export const SHELL_INPUT_CHUNK_BYTES = 16 * 1024

/** Terminal input as the frames it is sent in: pieces of at most SHELL_INPUT_CHUNK_BYTES. */
export function shellInputFrames<B extends ArrayBufferLike> (bytes: Uint8Array<B>): Array<Uint8Array<B>> {
  const frames: Array<Uint8Array<B>> = []
  for (let at = 0; at < bytes.length; at += SHELL_INPUT_CHUNK_BYTES) frames.push(bytes.subarray(at, at + SHELL_INPUT_CHUNK_BYTES))
  return frames
}

/** Text frames of the terminal's WebSocket, both ways. */
export const ShellControl = z.discriminatedUnion('type', [
  z.object({ type: z.literal('resize'), cols: z.number().int().min(1).max(10_000), rows: z.number().int().min(1).max(10_000) }),
  z.object({ type: z.literal('eof') }),
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('exit'), code: z.number().int().nullable() }),
  z.object({ type: z.literal('error'), message: z.string() })
])
export type ShellControl = z.infer<typeof ShellControl>

/** A forwarded port: `http://HOST:LOCAL/` here reaches REMOTE in the workspace (HOST is a loopback address of its own, see FORWARD_HOST). */
const Forward = z.object({ ref: z.string(), host: z.string(), remote: z.number(), local: z.number() })

/** One run of a workspace (a start or a restart). */
const WorkspaceRun = z.object({
  /** the run's job, `PROJECT/N` */
  job: z.string(),
  jobId: z.string(),
  provider: z.string().nullable(),
  state: JobState,
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  /** why it ended, when not by a plain stop */
  reason: z.string().nullable(),
  /** the home (with /code) it saved: its output once it ended, else its latest save */
  home: z.string().nullable(),
  /** the save it started from (null: new, empty) */
  from: z.string().nullable()
})

export const workspaceRoutes = {
  workspaceStart: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces`,
    summary: 'start a workspace: a container kept running on the best provider, its home at /home/floe',
    input: z.object({
      /** its name, unique in the project (protocol/workspaces/identity.ts); empty: the first free wsN */
      name: z.string().max(200).default(''),
      path: AbsolutePath.optional(),
      /** /code from a git repository, cloned (depth 1, no submodules, no hooks) by this daemon: instead of path */
      git: z.object({ url: z.string().min(1).max(2048), ref: z.string().min(1).max(256).optional() }).strict().optional(),
      environment: z.string().min(1).max(128).default('busybox'),
      requirements: Requirements,
      data: z.array(z.object({ ref: DataRef, mount: z.string().min(1).max(256) }).strict()).max(64).default([]),
      maxPricePerHour: z.number().nonnegative().max(1e9).optional(),
      provider: PeerIdString.optional(),
      project: ProjectRef.optional(),
      /** the most it may run (the provider's max-duration applies too) */
      timeoutSeconds: z.number().int().positive().max(366 * 24 * 3600).default(8 * 3600),
      idleTimeoutSeconds: z.number().int().positive().max(366 * 24 * 3600).default(3600),
      snapshotSeconds: z.number().int().min(2).max(366 * 24 * 3600).default(600),
      /** a Jupyter notebook server in it (see protocol/workspaces/notebook.ts): `auto` when its environment has one */
      jupyter: z.enum(NOTEBOOK_MODES).default('auto')
    }).strict(),
    output: JobView,
    progress: Progress
  }),
  workspaceList: defineRoute({
    method: 'GET',
    path: `${PREFIX}/workspaces`,
    summary: "this node's workspaces, and the local ports forwarded into them",
    input: z.object({}),
    output: z.object({ workspaces: z.array(JobView), ports: z.array(Forward) })
  }),
  workspaceRestart: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces/restart`,
    summary: 'a workspace again (stopped first when running), its home restored, on the provider its shape picks now',
    input: z.object({
      ref: JobRef,
      environment: z.string().min(1).max(128).optional(),
      requirements: z.object({ cpus: z.number().optional(), memoryBytes: z.number().optional(), gpus: z.number().optional(), gpuModel: z.string().max(128).optional() }).strict().optional(),
      provider: PeerIdString.optional(),
      maxPricePerHour: z.number().nonnegative().max(1e9).optional()
    }).strict(),
    output: JobView
  }),
  workspaceHistory: defineRoute({
    method: 'GET',
    path: `${PREFIX}/workspaces/history`,
    summary: "a workspace's runs, oldest first: each start or restart, its provider, when it ran, why it ended, the home it saved",
    input: z.object({ ref: JobRef }).strict(),
    output: z.object({
      /** `PROJECT/ws/NAME` */
      workspace: z.string(),
      name: z.string(),
      runs: z.array(WorkspaceRun)
    })
  }),
  workspacePort: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces/port`,
    summary: 'forward a loopback port of this machine to a port inside a running workspace',
    input: z.object({ ref: JobRef, port: z.number().int().min(1).max(65_535), local: z.number().int().min(0).max(65_535).default(0) }).strict(),
    output: Forward
  }),
  workspaceSave: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces/save`,
    summary: "save a running workspace's home (and /code) now, as its periodic saves do, and wait for the saved CID; its provider saves on request at most once every 10 s",
    input: z.object({ ref: JobRef }).strict(),
    output: z.object({ job: z.string(), home: z.string(), bytes: z.number(), savedAt: z.string() })
  }),
  workspaceDetach: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces/detach`,
    summary: 'start a background process in a running workspace: no terminal, output appended to ~/.floe/bg-ID.log; it outlives the call and ends with the workspace',
    input: z.object({ ref: JobRef, command: z.array(z.string().max(16 * 1024)).min(1).max(256) }).strict(),
    output: z.object({ ref: z.string(), id: z.string(), log: z.string() })
  }),
  serveList: defineRoute({
    method: 'GET',
    path: `${PREFIX}/serve`,
    summary: 'the local ports forwarded to running jobs that serve them (floe run --serve PORT)',
    input: z.object({}),
    output: z.object({ ports: z.array(Forward) })
  }),
  workspaceNotebook: defineRoute({
    method: 'POST',
    path: `${PREFIX}/workspaces/notebook`,
    summary: "a Jupyter workspace's notebook, served on a loopback origin of its own (not the web UI's): its URL, with the notebook's token",
    input: z.object({ ref: JobRef }).strict(),
    output: z.object({ ref: z.string(), url: z.string(), host: z.string(), port: z.number() })
  })
} as const
