import { z } from 'zod'
import { ExcludedOffer, RankedOffer, Requirements } from '../market/requirements.js'
import { LogLine } from '../jobs/job.js'
import { JobView, ServedJob } from '../jobs/view.js'
import { ServePorts } from '../jobs/spec.js'
import { MetricPoint } from '../jobs/metrics.js'
import { SystemSample, SystemSummary } from '../jobs/system-metrics.js'
import { defineRoute } from './route.js'
import { AbsolutePath, CidString, DataRef, JobRef, PeerIdString, ProjectRef, Progress } from './schemas.js'
import { Dataset } from '../datasets/dataset.js'
import { KnownPeer, MultiaddrString, NodeInfo, PeerInfo } from '../p2p/peer.js'
import { RepoStat } from '../store/repo.js'
import { ProviderRow, ProviderStatus } from '../market/provider.js'
import { projectRoutes } from './project-routes.js'
import { uiRoutes } from './ui-routes.js'
import { workspaceRoutes } from './workspace-routes.js'
import { envRoutes } from './env-routes.js'
import { billingRoutes } from './billing-routes.js'
import { marketRoutes } from './market-routes.js'
import { runConfigRoutes } from './run-config-routes.js'

export const API_VERSION_PREFIX = '/api/v1'

export const RunRequest = z.object({
  /** the code folder: it becomes the job's code snapshot (none: an empty one) */
  path: AbsolutePath.optional(),
  command: z.array(z.string().max(16 * 1024)).max(1024),
  environment: z.string().min(1).max(128).default('busybox'),
  requirements: Requirements,
  /**
   * a pip requirements file installed into a derived environment built on this node before
   * the job is sent (default: the code folder's requirements.txt, when it has one)
   */
  pipRequirements: AbsolutePath.optional(),
  /** run in the environment as it is, even when the code folder has a requirements.txt */
  noRequirements: z.boolean().optional(),
  data: z.array(z.object({ ref: DataRef, mount: z.string().min(1).max(256) }).strict()).max(64).default([]),
  /** the job's time limit; an hour unless given */
  timeoutSeconds: z.number().int().positive().max(366 * 24 * 3600).default(3600),
  maxPricePerHour: z.number().nonnegative().max(1e9).optional(),
  /** the most the job may cost in all (credits, at most 6 decimals): past it, no more is promised and the job stops */
  maxCost: z.number().positive().max(1e9).refine(n => Number.isInteger(Math.round(n * 1e6)) && Math.abs(Math.round(n * 1e6) - n * 1e6) < 1e-3, { message: 'at most 6 decimals' }).optional(),
  /** run even when the worst case (price × time limit) passes what the budgets leave: it stops when they are used */
  allowPartial: z.boolean().optional(),
  provider: PeerIdString.optional(),
  retries: z.number().int().nonnegative().max(10).default(0),
  message: z.string().max(1000).default(''),
  /** the project (`floe init` links a folder to one); this node's default project when absent */
  project: ProjectRef.optional(),
  /** the same spec gives the same output: `floe rerun --reuse` may return it without running */
  deterministic: z.boolean().default(false),
  /** container ports forwarded to this node while the job runs (`floe run --serve PORT`): part of the signed spec */
  serve: ServePorts.optional()
}).strict()
export type RunRequest = z.input<typeof RunRequest>

/** `floe rerun JOB`: what is given replaces the job's own. */
export const RerunRequest = z.object({
  ref: JobRef,
  command: z.array(z.string().max(16 * 1024)).max(1024).optional(),
  environment: z.string().min(1).max(128).optional(),
  /** checked whole once merged with the job's own */
  requirements: z.object({
    cpus: z.number().optional(),
    memoryBytes: z.number().optional(),
    gpus: z.number().optional(),
    gpuModel: z.string().max(128).optional(),
    minGpuMemoryBytes: z.number().optional(),
    network: z.boolean().optional()
  }).strict().optional(),
  data: z.array(z.object({ ref: DataRef, mount: z.string().min(1).max(256) }).strict()).max(64).optional(),
  /** a code folder snapshotted as the new job's code, instead of the job's own (`floe restart`) */
  path: AbsolutePath.optional(),
  timeoutSeconds: z.number().int().positive().max(366 * 24 * 3600).optional(),
  maxPricePerHour: z.number().nonnegative().max(1e9).optional(),
  provider: PeerIdString.optional(),
  retries: z.number().int().nonnegative().max(10).optional(),
  message: z.string().max(1000).optional(),
  deterministic: z.boolean().optional(),
  reuse: z.boolean().default(false)
}).strict()
export type RerunRequest = z.input<typeof RerunRequest>

const WrittenContent = z.object({ cid: CidString, dest: z.string(), bytes: z.number(), files: z.number() })

/** Every route of the local HTTP API. Keys are the names the typed client calls. */
export const routes = {
  id: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/id`,
    summary: "this node's peer id, addresses and versions",
    input: z.object({}),
    output: NodeInfo
  }),
  peers: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/peers`,
    summary: 'connected peers',
    input: z.object({}),
    output: z.object({ peers: z.array(PeerInfo) })
  }),
  peersKnown: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/peers/known`,
    summary: 'peers this node remembers (kept on disk), with why each is kept connected',
    input: z.object({}),
    output: z.object({ peers: z.array(KnownPeer) })
  }),
  connect: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/peers/connect`,
    summary: 'dial a peer by multiaddr, and keep it connected across restarts',
    input: z.object({ addr: MultiaddrString }).strict(),
    output: z.object({ peerId: PeerIdString, addr: MultiaddrString })
  }),
  datasetUpload: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/datasets`,
    summary: 'import a file or folder on this machine as a new version of a dataset',
    input: z.object({
      path: AbsolutePath,
      name: z.string().min(1).max(64),
      message: z.string().max(1000).default(''),
      cidVersion: z.union([z.literal(0), z.literal(1)]).default(1),
      chunker: z.enum(['fixed', 'rabin']).default('fixed'),
      /** serve it to any peer that asks; the default is private */
      public: z.boolean().default(false)
    }).strict(),
    output: Dataset,
    progress: Progress
  }),
  datasetAdd: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/datasets/add`,
    summary: "a finished job's output as the next version of a dataset, under the same CID (nothing is copied)",
    input: z.object({
      /** N/output, PROJECT/N/output, or the job's ref alone */
      job: JobRef,
      /** default: the job's project's name */
      name: z.string().min(1).max(64).optional(),
      message: z.string().max(1000).default('')
    }).strict(),
    output: Dataset
  }),
  datasetPublish: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/datasets/publish`,
    summary: 'make a dataset version (NAME:N, or NAME for its latest) public, so any peer may fetch it, or private again',
    input: z.object({ ref: DataRef, public: z.boolean().default(true) }).strict(),
    output: Dataset
  }),
  datasetList: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/datasets`,
    summary: "dataset versions, newest first: all of this node's, one name's, or another owner's published ones (OWNER/NAME)",
    input: z.object({ name: z.string().min(1).max(256).optional() }).strict(),
    output: z.object({ datasets: z.array(Dataset) })
  }),
  datasetGet: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/datasets/get`,
    summary: 'write a dataset (or any UnixFS CID) to a folder or file on this machine',
    input: z.object({
      ref: DataRef,
      dest: AbsolutePath,
      /** how to fetch what is not held: bulk protocol then bitswap (auto), or only one */
      transport: z.enum(['auto', 'bulk', 'bitswap']).default('auto')
    }).strict(),
    output: z.object({
      cid: CidString,
      dest: z.string(),
      bytes: z.number(),
      files: z.number(),
      /** where the content came from */
      via: z.enum(['local', 'bulk', 'bitswap']),
      /** bytes of blocks received from the peer over the bulk protocol (blocks already held are not sent); null over bitswap */
      fetchedBytes: z.number().nullable(),
      /** milliseconds the bulk fetch took, before the export; null when nothing was fetched in bulk */
      fetchMs: z.number().nullable()
    }),
    progress: Progress
  }),
  datasetRemove: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/datasets/rm`,
    summary: 'remove a dataset version (NAME:N) or every version (NAME); floe gc frees the blocks',
    input: z.object({ ref: DataRef }).strict(),
    output: z.object({ removed: z.array(Dataset) })
  }),
  repoStat: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/repo/stat`,
    summary: 'blocks and bytes held, and how much of it is pinned',
    input: z.object({}),
    output: RepoStat
  }),
  repoGc: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/repo/gc`,
    summary: 'remove every block no pin reaches',
    input: z.object({}).strict(),
    output: z.object({ removedBlocks: z.number().int(), freedBytes: z.number() })
  }),
  carExport: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/car/export`,
    summary: 'write a DAG as a CAR file',
    input: z.object({ ref: DataRef, file: AbsolutePath }).strict(),
    output: z.object({ root: CidString, blocks: z.number().int(), bytes: z.number(), file: z.string() }),
    progress: Progress
  }),
  carImport: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/car/import`,
    summary: 'import a CAR file, verifying every block; its roots are pinned',
    input: z.object({ file: AbsolutePath }).strict(),
    output: z.object({ roots: z.array(CidString), blocks: z.number().int(), bytes: z.number() }),
    progress: Progress
  }),
  providers: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/providers`,
    summary: 'live offers in the book, optionally those with N GPUs, a GPU model or an environment',
    input: z.object({
      gpus: z.coerce.number().int().nonnegative().max(64).optional(),
      gpuModel: z.string().min(1).max(128).optional(),
      env: z.string().min(1).max(128).optional()
    }).strict(),
    output: z.object({ providers: z.array(ProviderRow), rejections: z.record(z.string(), z.number()) })
  }),
  providerShow: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/provider`,
    summary: "this node's provider settings, offer and measured resources",
    input: z.object({}),
    output: ProviderStatus
  }),
  providerEnable: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/provider/enable`,
    summary: 'turn provider mode on or off (kept in config.json)',
    input: z.object({ enabled: z.boolean() }).strict(),
    output: ProviderStatus
  }),
  providerSet: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/provider/set`,
    summary: 'change one provider setting (kept in config.json)',
    input: z.object({ key: z.string().min(1).max(160), value: z.string().max(4096) }).strict(),
    output: ProviderStatus
  }),
  providerJobs: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/provider/jobs`,
    summary: 'jobs this node runs or ran for others as a provider (kept until their output is picked up), and what they earned',
    input: z.object({}),
    output: z.object({ jobs: z.array(ServedJob), earned: z.number() })
  }),
  match: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/match`,
    summary: 'rank the live offers for a job shape, with why each other offer is excluded',
    input: z.object({ requirements: Requirements }).strict(),
    output: z.object({ ranked: z.array(RankedOffer), excluded: z.array(ExcludedOffer) })
  }),
  jobRun: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs`,
    summary: 'check a job, snapshot its code folder, record it and send it to the best provider',
    input: RunRequest,
    output: JobView,
    progress: Progress
  }),
  jobRerun: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/rerun`,
    summary: "a new job from a job's spec with the changes given; with reuse, an earlier deterministic success of the same spec returns its output without running",
    input: RerunRequest,
    output: JobView
  }),
  jobList: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/jobs`,
    summary: "the jobs of a project (every project's without one), by project and number; deleted ones only with includeDeleted",
    input: z.object({ project: ProjectRef.optional(), includeDeleted: z.enum(['true', 'false']).optional() }).strict(),
    output: z.object({ jobs: z.array(JobView) })
  }),
  jobDelete: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/delete`,
    summary: "tombstone an ended job in its project's log: listings hide it, its output is no longer kept (floe gc frees it)",
    input: z.object({ ref: JobRef }).strict(),
    output: JobView
  }),
  jobShow: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/jobs/show`,
    summary: 'one job in full',
    input: z.object({ ref: JobRef }).strict(),
    output: JobView
  }),
  jobMetrics: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/jobs/metrics`,
    summary: 'every training metric a job printed ({"metric", "value", "step"|"epoch"} lines), as series for charts',
    input: z.object({ ref: JobRef }).strict(),
    output: z.object({ job: z.string(), series: z.record(z.string(), z.array(MetricPoint)) })
  }),
  jobSystemMetrics: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/jobs/system-metrics`,
    summary: "a job's CPU %, memory, disk and GPU samples over time (one a second at most, from its provider) and their summary",
    input: z.object({ ref: JobRef }).strict(),
    output: z.object({ job: z.string(), series: z.array(SystemSample), summary: SystemSummary.nullable() })
  }),
  jobLogs: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/logs`,
    summary: "a job's log lines after `after` (as progress events), and with follow each new one until the job ends",
    input: z.object({ ref: JobRef, after: z.number().int().nonnegative().default(0), follow: z.boolean().default(false) }).strict(),
    output: JobView,
    progress: LogLine,
    everyEvent: true
  }),
  jobStop: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/stop`,
    summary: 'stop a job: its provider kills the container and still returns what is in /output',
    input: z.object({ ref: JobRef }).strict(),
    output: JobView
  }),
  jobOutput: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/output`,
    summary: "write a finished job's output to a path on this machine",
    input: z.object({ ref: JobRef, dest: AbsolutePath }).strict(),
    output: WrittenContent,
    progress: Progress
  }),
  jobClone: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/jobs/clone`,
    summary: "write a job's code snapshot to a path on this machine",
    input: z.object({ ref: JobRef, dest: AbsolutePath }).strict(),
    output: WrittenContent,
    progress: Progress
  }),
  ...projectRoutes,
  ...uiRoutes,
  ...envRoutes,
  ...workspaceRoutes,
  ...billingRoutes,
  ...marketRoutes,
  ...runConfigRoutes
} as const

export type Routes = typeof routes
export type RouteName = keyof Routes
