import type { PrivateKey } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { isFinal, type LogLine } from '../../protocol/jobs/job.js'
import { readMetricLine, type MetricPoint } from '../../protocol/jobs/metrics.js'
import type { JobImage } from '../../protocol/jobs/spec.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { Requirements } from '../../protocol/market/requirements.js'
import type { Progress } from '../../protocol/progress.js'
import { exportDag, freeSpaceBudget, type ExportSummary } from '../content/index.js'
import type { RequireDag } from '../content/require-dag.js'
import type { Logger } from '../log.js'
import type { MatchResult } from '../market/match.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { readBlock } from '../store/read-block.js'
import { syncBlocks } from '../store/stores.js'
import type { ProjectMeta } from '../projects/log-store.js'
import type { ProjectLog } from '../projects/project-log.js'
import { rowView, type JobRow } from '../projects/job-rows.js'
import { JobNotFoundError, JobStateError } from './errors.js'
import { BUILTIN_ENVIRONMENT, jobChecks } from './job-checks.js'
import { logJobProgress } from './job-entries.js'
import { jobLogFeed } from './job-logs.js'
import { systemSamples } from './system-store.js'
import { jobEvents } from './job-events.js'
import { summarizeSystem, type SystemSample, type SystemSummary } from '../../protocol/jobs/system-metrics.js'
import { rateLimitedWarn } from '../log.js'
import { jobSubmission, type RerunRequest, type RunRequest } from './job-submit.js'
import { readStoredLog } from './stored-log.js'
import { runJob, type RunnerComponents } from './job-runner.js'
import { lostJobReconciler } from './reconcile.js'
import { jobRecords, recordView as view, type JobRecord } from './records.js'
import { reliabilityTally } from './reliability.js'
import { pinReasons } from '../store/pin-reasons.js'
import { parseJobOutputRef, parseJobRef } from './refs.js'
import { jobBilling, type JobBillingComponents } from './job-billing.js'
import { workspaceLive, type RequestedSave } from './workspace-live.js'
import { encodeJobMessage, JOB_PROTOCOL } from '../../protocol/jobs/wire.js'
import { WorkspaceStateError } from '../workspaces/errors.js'

/**
 * An output's blocks are its files' bytes plus its folders and file nodes: 5% and this much
 * more than the bytes a receipt states covers UnixFS's structure for any tree of real files.
 */
const STRUCTURE_ALLOWANCE_BYTES = 16 * 1024 * 1024

/**
 * Keeps workspaces' homes as their providers save them (daemon/workspaces/home-keeper.ts):
 * fetched and pinned here, the previous one let go.
 */
export interface WorkspaceHomes {
  keep(ref: string, home: CID, previous: CID | null): void
  /** the home a provider's `home saved: CID …` log line names (providers not sending `home-saved` yet) */
  savedInLine(line: LogLine): CID | undefined
}

export interface JobServiceComponents {
  self: string
  privateKey: PrivateKey
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  index: Parameters<typeof jobRecords>[0]
  pins: PinSet
  guard: GcGuard
  /** makes a DAG whole locally from connected peers (ContentUnavailableError); past `maxBytes` of blocks it stops (ContentTooLargeError) */
  requireDag: RequireDag
  /** a dataset ref (NAME, NAME:N, CID) → its root */
  resolveDataRef: (ref: string) => Promise<CID>
  /** ranks the live offers for a shape; `idle`: as if no provider were running anything */
  match: (requirements: Requirements, options: { idle?: boolean, reliability: (peer: string) => number | undefined }) => MatchResult
  /** environment names some live offer or this node holds */
  knownEnvironments: () => Promise<Set<string>>
  /** the image of an environment held here as content, which jobs then carry (see job-checks.ts) */
  environmentImage?: (name: string) => Promise<JobImage | undefined>
  open: RunnerComponents['open']
  /** the projects' logs: every job is recorded in its project's */
  projects: ProjectLog
  /** lets a job's provider fetch its code, inputs, image and home from this node while the job is its */
  access: JobContentAccess
  /** where workspaces' homes are kept as their providers save them */
  homes: WorkspaceHomes
  /** metering and budgets (daemon/billing); absent: jobs are not metered */
  billing?: JobBillingComponents['billing']
  log: Logger
  /** a job this node submitted has ended (notifications: daemon/notify) */
  onJobEnded?: (job: JobView) => void
}

/** The grants a job's provider gets (daemon/transfer/entitlement.ts), by job. */
export interface JobContentAccess {
  grantProvider(jobId: string, provider: string, roots: string[]): Promise<void>
  /** every grant of the job: it ended, or its provider refused or lost it */
  revoke(jobId: string): Promise<void>
}

/** What a job's provider fetches: the spec's code, inputs, image and workspace home. */
function providerRoots (record: JobRecord): string[] {
  const spec = record.spec
  return [record.specCid, spec.code, ...spec.inputs.map(i => i.cid), ...(spec.image != null ? [spec.image.cid] : []), ...(spec.workspace?.home != null ? [spec.workspace.home] : [])]
}

export type { RunRequest, RerunRequest }
export { BUILTIN_ENVIRONMENT }

/**
 * The client side of jobs: checks a request before anything runs (command, environment,
 * refs, mounts, an offer that fits), snapshots the code folder, stores the spec and records
 * the job, then hands it to the runner; serves status, logs (live), stop, output and clone.
 * Unfinished jobs are picked up again when the daemon starts.
 */
export function jobService (components: JobServiceComponents) {
  const { log } = components
  const records = jobRecords(components.index)
  const active = new Map<string, { stop: AbortController, channel: MessageChannel | null, done: Promise<void> }>()
  const feed = jobLogFeed(records)
  const system = systemSamples(components.index)
  const events = jobEvents({ self: components.self, log, onEnded: components.onJobEnded })
  const warnSamples = rateLimitedWarn(log, { perMinute: 2 })
  const shutdown = new AbortController()

  const reliability = reliabilityTally()
  const billing = components.billing == null ? undefined : jobBilling({ billing: components.billing, projects: components.projects, match: components.match, reliability: peer => reliability.of(peer), log })
  const checks = jobChecks({ ...components, reliability: reliability.of, resolveInput: async ref => await resolveInput(ref) })
  const save = async (record: JobRecord, lines: LogLine[] = []): Promise<void> => {
    const points = []
    for (const line of lines) {
      // a 1.0.0 provider names a saved home only in this system line (1.1.0 sends `home-saved`)
      const home = components.homes.savedInLine(line)
      if (home != null && record.spec.workspace != null) keepHome(record, home, line.at)
      const found = line.stream === 'stdout' ? readMetricLine(line.line, line.at) : null
      if (found === 'malformed') record.metricsDropped = (record.metricsDropped ?? 0) + 1
      if (found == null || found === 'malformed') continue
      points.push({ metric: found.metric, seq: line.seq, point: found.point })
      record.metrics = { ...record.metrics, [found.metric]: found.point }
    }
    await records.appendLog(record.jobId, lines, points)
    // lines alone need no sync: after a crash the provider sends again what was not kept
    await records.put(record, { sync: lines.length === 0 })
    // no provider holds it (refused, lost, waiting) or it ended: no provider may fetch its content
    if (lines.length === 0 && (record.provider == null || isFinal(record.state))) await components.access.revoke(record.jobId)
    reliability.update(record)
    reconciler.note(record)
    if (lines.length === 0) events.note(view(record))
    // a state change (saves of lines alone change none) may be news for the project log;
    // written beside the job, not in its way (a restart writes what a crash missed)
    if (lines.length === 0) void logProgress(record)
    feed.notify(record, lines)
  }

  /** A workspace's home as its provider saved it: the record names it, and it is kept here (workspaces/home-keeper.ts). */
  /**
   * When each workspace's kept home was saved (ms, the provider's clock): a 1.1.0 provider
   * names each save twice, as `home-saved` and as its log line, and the line of an older save
   * may arrive after the message of a newer one — the newest save wins, never the latest heard.
   */
  const homeSavedAt = new Map<string, number>()
  const keepHome = (record: JobRecord, home: CID, at: number): void => {
    if (at < (homeSavedAt.get(record.jobId) ?? 0) || record.homeCid === home.toString()) return
    homeSavedAt.set(record.jobId, at)
    const previous = record.homeCid == null ? null : CID.parse(record.homeCid)
    record.homeCid = home.toString()
    components.homes.keep(record.ref, home, previous)
  }

  /** Project-log entries for a job's progress, one job's at a time. */
  const progressTurns = new Map<string, Promise<void>>()
  const logProgress = async (record: JobRecord): Promise<void> => {
    const snapshot = structuredClone(record)
    const turn = (progressTurns.get(record.jobId) ?? Promise.resolve()).then(async () => { await logJobProgress(components.projects, snapshot) })
    const settled = turn.catch((err: Error) => { log.warn({ jobId: record.jobId, err: err.message }, 'could not record the job in its project log') })
    progressTurns.set(record.jobId, settled)
    await settled
    if (progressTurns.get(record.jobId) === settled) progressTurns.delete(record.jobId)
  }

  const resolveInput = async (ref: string): Promise<CID> => {
    const jobRef = parseJobOutputRef(ref)
    if (jobRef == null) return await components.resolveDataRef(ref)
    const job = await find(jobRef)
    if (job.outputCid == null) throw new JobStateError(`job ${job.ref} has no output (it is ${job.state}); mount the output of a finished job`)
    return CID.parse(job.outputCid)
  }

  const storedLog = async (row: JobRow, signal?: AbortSignal): Promise<LogLine[]> => await readStoredLog(components, row, signal)
  const projectOf = async (ref: string | null | undefined): Promise<ProjectMeta> => ref == null ? await components.projects.defaultProject() : await components.projects.resolve(ref)

  /**
   * The runs of workspace `name` in a project (the default one without one), oldest first:
   * the project log's workspace jobs with that name (a run's job.created carries it, signed).
   */
  const workspaceRows = async (project: string | null | undefined, name: string): Promise<JobRow[]> => {
    const rows = (await components.projects.jobRows((await projectOf(project)).id)).filter(row => row.spec.workspace != null && row.message === name)
    return rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.number - b.number)
  }

  /** A job by ref: its project log row, and this node's record when it submitted it. A workspace's name is its latest run. */
  const locate = async (ref: string): Promise<{ row: JobRow, record: JobRecord | undefined }> => {
    const parsed = parseJobRef(ref)
    const project = 'number' in parsed ? await projectOf(parsed.project) : undefined
    const row = 'jobId' in parsed
      ? await components.projects.jobRowById(parsed.jobId)
      : 'workspace' in parsed
        ? (await workspaceRows(parsed.project, parsed.workspace)).at(-1)
        : await components.projects.jobRow((project as ProjectMeta).id, parsed.number)
    if (row == null) {
      // the project searched is named: a bare number means the default project's job (the CLI says when a folder's link chose it)
      throw new JobNotFoundError('workspace' in parsed
        ? `no workspace ${ref} (and no job: a job is a number); see floe workspace ls, or start it with floe workspace start ${parsed.workspace}`
        : 'number' in parsed
          ? `no job ${parsed.project == null || parsed.project === project?.id ? parsed.number : ref} in ${parsed.project == null ? "this node's default project" : 'project'} ${project?.name ?? ''}; see floe status${parsed.project == null ? '' : ` --project ${project?.name ?? ''}`}`
          : `no job ${ref}; see floe status --all`)
    }
    return { row, record: await records.get(row.jobId) }
  }
  /** running workspaces' last traffic and "save home now" requests (1.3.0) */
  const live = workspaceLive()
  /** a running workspace's view names when it stops for idleness, once its provider said when it was last used */
  const withIdle = (job: JobView): JobView => { const idle = live.idle(job); return idle == null ? job : { ...job, ...idle } }
  const find = async (ref: string): Promise<JobView> => {
    const { row, record } = await locate(ref)
    return record != null ? withIdle(withTombstone(view(record), row)) : rowView(row)
  }

  const start = (record: JobRecord): void => {
    const stop = new AbortController()
    const entry = { stop, channel: null as MessageChannel | null, done: Promise.resolve() }
    entry.done = runJob({
      self: components.self,
      privateKey: components.privateKey,
      // a provider is offered the job (or reattached to) only once it may fetch the job's content
      open: async (provider, signal) => {
        await components.access.grantProvider(record.jobId, provider, providerRoots(record))
        return await components.open(provider, signal)
      },
      candidates: (r, exclude) => checks.candidates(r, exclude),
      specBytes: async r => await readBlock(components.blockstore, CID.parse(r.specCid)),
      save,
      collect: async (r, receipt) => { await collect(r, receipt.outputCid, receipt.logsCid, receipt.outputBytes) },
      ...(billing != null ? { billing } : {}),
      homeSaved: async (r, home, at, saved) => {
        // only a workspace has a home: a provider naming one for a batch job gets nothing fetched
        if (r.spec.workspace == null) return
        keepHome(r, home, at)
        await records.put(r)
        live.saved(r.jobId, home, saved?.bytes ?? 0, at, saved?.requested === true)
      },
      activity: (r, activeAt) => { live.activity(r, activeAt) },
      saveRefused: (r, message) => { live.refused(r.jobId, message) },
      system: async (r, samples) => {
        const added = await system.append(r.jobId, samples)
        if (added.dropped > 0 || added.thinned) warnSamples(r.jobId, { jobId: r.jobId, provider: r.provider, dropped: added.dropped, thinned: added.thinned }, 'system samples from the provider dropped (too frequent or dated in the future) or thinned (past the cap per job)')
      },
      log
    }, record, { stop: stop.signal, shutdown: shutdown.signal, onChannel: channel => { entry.channel = channel } })
      .catch((err: Error) => { log.error({ jobId: record.jobId, err: err.message }, 'job runner failed') })
      .finally(() => { active.delete(record.jobId); system.forget(record.jobId); live.forget(record.jobId) })
    active.set(record.jobId, entry)
  }

  const reconciler = lostJobReconciler({
    open: components.open,
    get: async jobId => await records.get(jobId),
    save: async record => { await save(record) },
    follow: record => { start(record) },
    following: jobId => active.has(jobId),
    log
  })

  /** What this node's block store may still take: the free space of its file system. */
  const freeBytes = async (): Promise<number> => (await freeSpaceBudget(components.blocksPath)).maxBytes

  /**
   * Fetches the output and logs from the provider and pins them under the job's ref. A
   * provider names them, so they are bounded: the output by the size its signed receipt
   * states (plus the DAG's own structure), both by the free space here.
   */
  const collect = async (record: JobRecord, output: CID | null, logs: CID | null, outputBytes?: number): Promise<void> => {
    await components.guard.shared(async () => {
      const free = await freeBytes()
      for (const cid of [output, logs]) {
        if (cid == null) continue
        await pinReasons.output(record.ref).add(components.pins, cid)
        const stated = cid === output && outputBytes != null ? Math.ceil(outputBytes * 1.05) + STRUCTURE_ALLOWANCE_BYTES : Infinity
        await components.requireDag(cid, { maxBytes: Math.min(stated, free) })
      }
      await syncBlocks(components.blocksPath)
    })
  }

  const submission = jobSubmission({
    ...components,
    records,
    checks,
    find,
    projectOf,
    logged: async () => { await Promise.all([...progressTurns.values()]) },
    start
  })

  return {
    /** `floe run`: refused first when its worst case passes what its budgets leave (unless --allow-partial) */
    async run (request: RunRequest, options?: Parameters<typeof submission.run>[1]): Promise<JobView> {
      if (billing != null) await billing.admit(request, (await projectOf(request.project)).id)
      return await submission.run(request, options)
    },
    rerun: submission.rerun,

    /** The jobs of a project (every project's without one): the log's rows, this node's own as it follows them. */
    async list (options: { project?: string, includeDeleted?: boolean } = {}): Promise<JobView[]> {
      const projects = options.project != null ? [await components.projects.resolve(options.project)] : await components.projects.all()
      const all: JobView[] = []
      for (const project of projects) {
        for (const row of await components.projects.jobRows(project.id)) {
          if (row.deletedAt != null && options.includeDeleted !== true) continue
          const record = await records.get(row.jobId)
          all.push(record != null ? withIdle(withTombstone(view(record), row)) : rowView(row))
        }
      }
      return all.sort((a, b) => a.project.localeCompare(b.project) || a.projectId.localeCompare(b.projectId) || a.number - b.number)
    },

    async show (ref: string): Promise<JobView> {
      return await find(ref)
    },

    /** Every run of workspace `name` in a project (the default one without one), oldest first. */
    async workspaceRuns (project: string | null | undefined, name: string): Promise<JobView[]> {
      const views: JobView[] = []
      for (const row of await workspaceRows(project, name)) {
        const record = await records.get(row.jobId)
        views.push(record != null ? view(record) : rowView(row))
      }
      return views
    },

    /** every training metric's series: for charts (another member's job: the latest points its log entry carries) */
    async metrics (ref: string): Promise<{ job: string, series: Record<string, MetricPoint[]> }> {
      const { row, record } = await locate(ref)
      if (record == null) return { job: row.ref, series: Object.fromEntries(Object.entries(row.metrics).map(([name, point]) => [name, [point]])) }
      return { job: record.ref, series: await records.metrics(record.jobId) }
    },

    /** the job's system samples (CPU, memory, disk, GPU over time) and their summary; another member's job: none kept here */
    async systemMetrics (ref: string): Promise<{ job: string, series: SystemSample[], summary: SystemSummary | null }> {
      const { row, record } = await locate(ref)
      if (record == null) return { job: row.ref, series: [], summary: null }
      const series = await system.series(record.jobId)
      return { job: record.ref, series, summary: summarizeSystem(series) }
    },

    /**
     * Every log line after `after`, then (with `follow`) each new one as it arrives, until the
     * job ends; resolves with the job as it is then. Another member's job: its logs as the
     * provider stored them (fetched by CID), once it has ended.
     */
    async logs (ref: string, options: { after: number, follow: boolean, signal?: AbortSignal, onLine: (line: LogLine) => void }): Promise<JobView> {
      const located = await locate(ref)
      if (located.record == null) {
        for (const line of await storedLog(located.row, options.signal)) if (line.seq > options.after) options.onLine(line)
        return rowView(located.row)
      }
      return view(await feed.follow(located.record, options))
    },

    /**
     * `floe delete`: a tombstone in the project's log (job.deleted), so every member's
     * listings hide the job; its output and logs are no longer kept here (gc frees them
     * unless a dataset version names them). A job still under way is refused: stop it first.
     */
    async deleteJob (ref: string): Promise<JobView> {
      const job = await find(ref)
      if (job.deletedAt != null) return job
      if (!isFinal(job.state)) throw new JobStateError(`job ${job.ref} is ${job.state}; stop it first (floe stop ${job.ref}), then delete it`)
      if (job.author !== components.self) throw new JobStateError(`job ${job.ref} is ${job.author}'s: only its author may delete it`)
      await components.projects.write(job.projectId, 'job.deleted', { job: job.jobId })
      for (const cid of [job.outputCid, job.logsCid]) if (cid != null) await pinReasons.output(job.ref).remove(components.pins, CID.parse(cid))
      log.info({ jobId: job.jobId, ref: job.ref }, 'job deleted')
      return await find(job.ref)
    },

    async stopJob (ref: string): Promise<JobView> {
      let record = await find(ref)
      // a job called lost here may still run on its provider: then it is followed again, and stopped
      if (record.state === 'lost' && record.author === components.self && await reconciler.reconcile(record.jobId, 'asked to stop')) record = await find(ref)
      if (record.state === 'lost') throw new JobStateError(`job ${record.ref} has already ended (lost): its provider${record.provider != null ? ` ${record.provider}` : ''} does not have it running, or could not be reached`)
      if (isFinal(record.state)) throw new JobStateError(`job ${record.ref} has already ended (${record.state})`)
      const entry = active.get(record.jobId)
      if (entry == null) throw new JobStateError(`job ${record.ref} is not being followed by this daemon${record.author !== components.self ? ` (it is ${record.author}'s: its own daemon stops it)` : ''}`)
      entry.stop.abort(new Error('stopped by the user'))
      await entry.done
      return await find(ref)
    },

    /** When a running workspace of this node's stops for idleness, as its provider last said (null: not known) */
    workspaceIdle: (view: Pick<JobView, 'jobId' | 'state' | 'spec'>): { lastActiveAt: string, idleStopAt: string } | null => live.idle(view),

    /**
     * "Save home now": asks the provider of a running workspace of this node's to save its
     * home (and /code) as its periodic saves do, and waits for the home it names.
     */
    async saveHome (ref: string): Promise<RequestedSave & { job: string }> {
      const job = await find(ref)
      const name = job.message !== '' ? job.message : job.ref
      if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace: only a workspace has a home to save`)
      if (job.state !== 'running') throw new WorkspaceStateError(`workspace ${name} is ${job.state}, not running${isFinal(job.state) ? `: its home was saved as it stopped (${job.outputCid ?? 'none'}); see floe workspace history ${name}` : '; save it once it runs'}`)
      const entry = active.get(job.jobId)
      if (entry == null) throw new WorkspaceStateError(`workspace ${name} is not being followed by this daemon${job.author !== components.self ? ` (it is ${job.author}'s: its own daemon saves it)` : ''}`)
      const saved = await live.request(job.jobId, async () => {
        const channel = entry.channel
        if (channel == null) throw new WorkspaceStateError(`workspace ${name}'s provider is being reconnected; try again in a few seconds`)
        if ((channel as { protocol?: string }).protocol !== JOB_PROTOCOL) throw new WorkspaceStateError(`workspace ${name}'s provider speaks ${(channel as { protocol?: string }).protocol ?? 'an older protocol'}, which has no save on request (${JOB_PROTOCOL}); its home is saved every ${job.spec.workspace?.snapshotSeconds ?? 0} s and as it stops`)
        await channel.send(encodeJobMessage({ type: 'save-home' }))
      })
      return { job: job.ref, ...saved }
    },

    /** Writes a job's output (or, with `what: 'code'`, its code snapshot) to `dest`. */
    async write (ref: string, dest: string, what: 'output' | 'code', options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<ExportSummary & { cid: string }> {
      const record = await find(ref)
      const cid = what === 'code' ? record.spec.code : record.outputCid
      if (cid == null) throw new JobStateError(`job ${record.ref} has no output yet (it is ${record.state})`)
      const root = CID.parse(cid)
      await components.requireDag(root, { signal: options.signal })
      const summary = await exportDag(components.blockstore, root, dest, { signal: options.signal, onProgress: p => options.onProgress?.({ phase: 'export', bytes: p.bytes, totalBytes: p.totalBytes }) })
      return { ...summary, cid }
    },

    /** a provider's 0..1 record of carrying this node's jobs to an end (undefined: none yet) */
    reliability: (peer: string): number | undefined => reliability.of(peer),

    /**
     * Picks up every unfinished job (followed again on its provider, or matched again) and
     * brings the project logs up to date with the records; a job logged as created whose
     * record a crash lost is logged as failed.
     */
    async start (): Promise<void> {
      for await (const record of records.all()) {
        reliability.update(record)
        reconciler.note(record)
        await logProgress(record)
        if (!isFinal(record.state) && !active.has(record.jobId)) {
          log.info({ jobId: record.jobId, ref: record.ref, state: record.state }, 'resuming a job after a restart')
          start(record)
        }
      }
      for (const project of await components.projects.all()) {
        for (const row of await components.projects.jobRows(project.id)) {
          if (row.author !== components.self || isFinal(row.state) || await records.get(row.jobId) != null) continue
          log.warn({ ref: row.ref }, 'a job was logged but never recorded (the daemon stopped in between): logging it as failed')
          await components.projects.write(project.id, 'job.failed', { job: row.jobId, reason: 'the daemon stopped before the job was sent' })
        }
      }
      // lost jobs whose providers may still have them: asked in the background (a dial may take seconds)
      reconciler.start()
    },

    /** Stops following jobs (they go on at their providers; the next start follows them again). */
    async stop (): Promise<void> {
      shutdown.abort(new Error('the daemon is stopping'))
      await reconciler.stop()
      for (const entry of active.values()) entry.channel?.abort(new Error('the daemon is stopping'))
      await Promise.all([...active.values()].map(async entry => await entry.done))
      await Promise.all([...progressTurns.values()])
    }
  }
}

export type JobService = ReturnType<typeof jobService>

/** This node's record of a job, with the tombstone its project's log may hold. */
function withTombstone (job: JobView, row: JobRow): JobView {
  return row.deletedAt != null ? { ...job, deletedAt: row.deletedAt } : job
}
