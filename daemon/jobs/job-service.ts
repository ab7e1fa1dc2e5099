import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { isFinal, type LogLine } from '../../protocol/jobs/job.js'
import { parseMetricLine, type MetricPoint } from '../../protocol/jobs/metrics.js'
import { encodeJobSpec, jobSpecView, specCid, type JobImage, type JobSpec } from '../../protocol/jobs/spec.js'
import type { SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { Requirements, RequirementsInput } from '../../protocol/market/requirements.js'
import type { Progress } from '../../protocol/api/routes.js'
import { exportDag, freeSpaceBudget, importPath, snapshotIgnore, type ExportSummary } from '../content/index.js'

/**
 * An output's blocks are its files' bytes plus its folders and file nodes: 5% and this much
 * more than the bytes a receipt states covers UnixFS's structure for any tree of real files.
 */
const STRUCTURE_ALLOWANCE_BYTES = 16 * 1024 * 1024
import type { FetchDagOutcome } from '../content/fetch-dag.js'
import type { Logger } from '../log.js'
import type { MatchResult } from '../market/match.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { syncBlocks } from '../store/stores.js'
import { readBlock } from '../store/read-block.js'
import { HOME_SAVED } from '../../protocol/workspaces/tunnel.js'
import type { ProjectMeta } from '../projects/log-store.js'
import type { ProjectLog } from '../projects/project-log.js'
import { rowView, type JobRow } from '../projects/job-rows.js'
import type { EntryPayload } from '../../protocol/projects/entry.js'
import { InvalidJobError, JobNotFoundError, JobStateError } from './errors.js'
import { BUILTIN_ENVIRONMENT, jobChecks } from './job-checks.js'
import { logJobProgress, signedReceiptOf } from './job-entries.js'
import { readStoredLog } from './stored-log.js'
import { takeTurns } from '../turns.js'
import { runJob, type RunnerComponents } from './job-runner.js'
import { lostJobReconciler } from './reconcile.js'
import { jobRecords, type JobRecord } from './records.js'
import { reliabilityTally } from './reliability.js'
import { parseJobOutputRef, parseJobRef } from './refs.js'

export interface JobServiceComponents {
  self: string
  privateKey: PrivateKey
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  index: Parameters<typeof jobRecords>[0]
  pins: PinSet
  guard: GcGuard
  /** makes a DAG whole locally from connected peers; past `maxBytes` of blocks it stops (ContentTooLargeError) */
  fetchDag: (root: CID, options: { signal?: AbortSignal, maxBytes?: number }) => Promise<FetchDagOutcome>
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
  log: Logger
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

export interface RunRequest {
  /** the code folder on this machine (none: the job gets an empty /code) */
  path?: string
  command: string[]
  environment: string
  requirements: RequirementsInput
  data: Array<{ ref: string, mount: string }>
  timeoutSeconds: number
  maxPricePerHour?: number
  provider?: string
  retries: number
  message: string
  /** the project (id, OWNER/NAME or NAME); this node's default project when absent */
  project?: string
  /** the same spec gives the same output: `rerun --reuse` may return it without running */
  deterministic?: boolean
  /** a workspace, not a batch job (its command keeps the container up) */
  workspace?: { home: string | null, idleTimeoutSeconds: number, snapshotSeconds: number }
}

/** `floe rerun`: a job's spec again, with what is given changed. */
export interface RerunRequest {
  ref: string
  command?: string[]
  environment?: string
  requirements?: Partial<RequirementsInput>
  data?: Array<{ ref: string, mount: string }>
  timeoutSeconds?: number
  maxPricePerHour?: number
  provider?: string
  retries?: number
  message?: string
  deterministic?: boolean
  /** return the output of an earlier success of the same spec marked deterministic, without running */
  reuse?: boolean
  /** a workspace's restart: the home it starts from (its saved home) */
  workspaceHome?: string | null
}

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
  const listeners = new Map<string, Set<(event: { line?: LogLine, record: JobRecord }) => void>>()
  const numbering = takeTurns()
  const shutdown = new AbortController()

  const notify = (record: JobRecord, lines: LogLine[] = []): void => {
    const set = listeners.get(record.jobId)
    if (set == null) return
    for (const listener of set) {
      for (const line of lines) listener({ line, record })
      listener({ record })
    }
  }

  const reliability = reliabilityTally()
  const { candidates, checkShape, checkInputs } = jobChecks({ ...components, reliability: reliability.of, resolveInput: async ref => await resolveInput(ref) })
  const save = async (record: JobRecord, lines: LogLine[] = []): Promise<void> => {
    const points = []
    for (const line of lines) {
      if (line.stream === 'system' && line.line.startsWith(HOME_SAVED)) keepHome(record, line.line.slice(HOME_SAVED.length).trim().split(' ')[0] ?? '')
      const found = line.stream === 'stdout' ? parseMetricLine(line.line, line.at) : null
      if (found == null) continue
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
    // a state change (saves of lines alone change none) may be news for the project log;
    // written beside the job, not in its way (a restart writes what a crash missed)
    if (lines.length === 0) void logProgress(record)
    notify(record, lines)
  }

  /**
   * A workspace's home as its provider saved it while running: fetched here and pinned (the
   * previous save let go), so a restart can start from it even if that provider is gone.
   */
  const keepHome = (record: JobRecord, cidText: string): void => {
    let cid: CID
    try {
      cid = CID.parse(cidText)
    } catch {
      return
    }
    const previous = record.homeCid
    record.homeCid = cid.toString()
    void components.guard.shared(async () => {
      await components.pins.add(cid, `workspace-home:${record.ref}`)
      if (previous != null && previous !== record.homeCid) await components.pins.remove(CID.parse(previous), `workspace-home:${record.ref}`)
      const fetched = await components.fetchDag(cid, { maxBytes: await freeBytes() })
      if (fetched.via === 'bitswap') throw new Error(`no connected peer could send ${cid.toString()}`)
    }).catch((err: Error) => { log.warn({ ref: record.ref, home: cidText, err: err.message }, 'could not keep the workspace home here') })
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

  /** A job by ref: its project log row, and this node's record when it submitted it. */
  const locate = async (ref: string): Promise<{ row: JobRow, record: JobRecord | undefined }> => {
    const parsed = parseJobRef(ref)
    const row = 'jobId' in parsed
      ? await components.projects.jobRowById(parsed.jobId)
      : await components.projects.jobRow((await projectOf(parsed.project)).id, parsed.number)
    if (row == null) throw new JobNotFoundError(`no job ${ref}; see floe status`)
    return { row, record: await records.get(row.jobId) }
  }
  const find = async (ref: string): Promise<JobView> => {
    const { row, record } = await locate(ref)
    return record != null ? view(record) : rowView(row)
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
      candidates: (r, exclude) => candidates(r, exclude),
      specBytes: async r => await readBlock(components.blockstore, CID.parse(r.specCid)),
      save,
      collect: async (r, receipt) => { await collect(r, receipt.outputCid, receipt.logsCid, receipt.outputBytes) },
      log
    }, record, { stop: stop.signal, shutdown: shutdown.signal, onChannel: channel => { entry.channel = channel } })
      .catch((err: Error) => { log.error({ jobId: record.jobId, err: err.message }, 'job runner failed') })
      .finally(() => { active.delete(record.jobId) })
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
        await components.pins.add(cid, `output:${record.ref}`)
        const stated = cid === output && outputBytes != null ? Math.ceil(outputBytes * 1.05) + STRUCTURE_ALLOWANCE_BYTES : Infinity
        const fetched = await components.fetchDag(cid, { maxBytes: Math.min(stated, free) })
        if (fetched.via === 'bitswap') throw new Error(`no connected peer could send ${cid}`)
      }
      await syncBlocks(components.blocksPath)
    })
  }

  /** The code folder as a DAG; with no folder, an empty one. */
  const snapshotCode = async (path: string | undefined, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void }): Promise<{ cid: CID }> => {
    const folder = path ?? await mkdtemp(join(tmpdir(), 'floe-empty-code-'))
    try {
      return await importPath(components.blockstore, folder, {
        ignore: await snapshotIgnore(folder),
        signal: options.signal,
        onProgress: p => options.onProgress?.({ phase: 'import', bytes: p.bytes, totalBytes: p.totalBytes })
      })
    } finally {
      if (path == null) await rm(folder, { recursive: true, force: true })
    }
  }

  /**
   * Stores the spec, records the job in its project's log (job.created, numbered in this
   * node's range) and then here, and starts it — or, given an earlier success of the same
   * spec (`reused`), records the job as returning that output without running.
   */
  const submit = async (project: ProjectMeta, spec: JobSpec, meta: { message: string, inputs: Array<{ ref: string, cid: CID, mount: string }>, maxPricePerHour?: number, provider?: string, retries: number, deterministic?: boolean }, reused?: JobRow): Promise<JobView> => {
    let bytes: Uint8Array
    try {
      bytes = encodeJobSpec(spec)
    } catch (err: any) {
      throw new InvalidJobError(err?.message ?? String(err))
    }
    const cid = await specCid(bytes)
    await components.blockstore.put(cid, bytes)
    await syncBlocks(components.blocksPath)
    const record = await numbering(async () => {
      const jobId = randomBytes(16).toString('hex')
      const number = await components.projects.nextJobNumber(project.id)
      const inputs = meta.inputs.map(input => ({ ref: input.ref, cid: input.cid.toString(), mount: input.mount }))
      const reusedPayload: EntryPayload<'job.created'>['reused'] = reused == null
        ? null
        : { from: reused.ref, outputCid: reused.outputCid, logsCid: reused.logsCid, receipt: signedReceiptOf(reused) as SignedReceipt }
      // the log first: a crash before the record leaves an entry that start() marks failed
      await components.projects.write(project.id, 'job.created', {
        job: jobId, number, message: meta.message, specCid: cid.toString(), spec: jobSpecView(spec), inputs, deterministic: meta.deterministic === true, reused: reusedPayload
      })
      const row = await components.projects.jobRowById(jobId) as JobRow
      const record: JobRecord = {
        ...row,
        maxPricePerHour: meta.maxPricePerHour ?? null,
        requestedProvider: meta.provider ?? null,
        retries: meta.retries,
        signedReceipt: row.signedReceipt,
        leaseId: null,
        logBase: 0
      }
      await records.put(record)
      await components.pins.add(cid, `job:${record.ref}`)
      if (reused != null) {
        for (const content of [record.outputCid, record.logsCid]) if (content != null) await components.pins.add(CID.parse(content), `output:${record.ref}`)
      }
      return record
    })
    log.info({ jobId: record.jobId, ref: record.ref, specCid: record.specCid, reusedFrom: record.reusedFrom }, record.reusedFrom != null ? 'job reused an earlier output' : 'job created')
    if (reused == null) start(record)
    return view(record)
  }

  return {
    async run (request: RunRequest, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<JobView> {
      if (request.command.length === 0 || request.command.every(arg => arg.trim() === '')) throw new InvalidJobError('no command given: put it after --, e.g. floe run -- python train.py')
      const project = await projectOf(request.project)
      const inputs = await checkInputs(request.data)
      const shape = await checkShape(request, request.environment, request.requirements)
      // Code snapshot, spec block and job record: pinned before gc may run again.
      return await components.guard.shared(async () => {
        const code = await snapshotCode(request.path, options)
        const spec: JobSpec = { version: 1, code: code.cid, inputs: inputs.map(input => ({ cid: input.cid, mount: input.mount })), ...shape }
        if (request.workspace != null) spec.workspace = { ...request.workspace, home: request.workspace.home == null ? null : CID.parse(request.workspace.home) }
        return await submit(project, spec, { ...request, inputs })
      })
    },

    /**
     * `floe rerun`: the job's spec with the changes given, as a new job in the same project.
     * With `reuse`, an earlier success of the resulting spec marked deterministic returns its
     * output at once (the new entry says whose); without one, it runs.
     */
    async rerun (request: RerunRequest): Promise<JobView> {
      const source = await find(request.ref)
      const project = await components.projects.resolve(source.projectId)
      const inputs = request.data != null
        ? await checkInputs(request.data)
        : source.inputs.map(input => ({ ref: input.ref, cid: CID.parse(input.cid), mount: input.mount }))
      const environment = request.environment ?? source.spec.environment
      const was = source.spec.resources
      const requirements: RequirementsInput = {
        cpus: was.cpus,
        memoryBytes: was.memoryBytes,
        gpus: was.gpus,
        ...(was.gpuModel != null ? { gpuModel: was.gpuModel } : {}),
        ...(was.minGpuMemoryBytes != null ? { minGpuMemoryBytes: was.minGpuMemoryBytes } : {}),
        ...(source.spec.network ? { network: true } : {}),
        ...request.requirements
      }
      const command = request.command != null && request.command.length > 0 ? request.command : source.spec.command
      const shape = await checkShape({ ...request, command, timeoutSeconds: request.timeoutSeconds ?? source.spec.timeoutSeconds }, environment, requirements, { reusable: request.reuse === true })
      const spec: JobSpec = { version: 1, code: CID.parse(source.spec.code), inputs: inputs.map(input => ({ cid: input.cid, mount: input.mount })), ...shape }
      // the same environment is the same image: the spec (and --reuse) stays that of the source
      const sourceImage = source.spec.image
      if (request.environment == null && sourceImage != null) spec.image = { cid: CID.parse(sourceImage.cid), id: sourceImage.id, bytes: sourceImage.bytes }
      const workspace = source.spec.workspace
      if (workspace != null) {
        const home = request.workspaceHome !== undefined ? request.workspaceHome : workspace.home
        spec.workspace = { idleTimeoutSeconds: workspace.idleTimeoutSeconds, snapshotSeconds: workspace.snapshotSeconds, home: home == null ? null : CID.parse(home) }
      }
      const meta = {
        message: request.message ?? source.message,
        inputs,
        maxPricePerHour: request.maxPricePerHour ?? source.maxPricePerHour ?? undefined,
        provider: request.provider,
        retries: request.retries ?? source.retries,
        deterministic: request.deterministic ?? source.deterministic
      }
      if (request.reuse === true) {
        // this node's own jobs' endings may still be on their way into the log
        await Promise.all([...progressTurns.values()])
        const cid = (await specCid(encodeJobSpec(spec))).toString()
        const earlier = (await components.projects.jobsWithSpec(project.id, cid)).find(row => row.state === 'success' && row.deterministic && row.signedReceipt != null)
        if (earlier != null) return await submit(project, spec, meta, earlier)
      }
      // the code (and inputs) may be another member's: held here before a provider asks for them
      await components.guard.shared(async () => {
        for (const root of [spec.code, ...spec.inputs.map(input => input.cid), ...(spec.workspace?.home != null ? [spec.workspace.home] : [])]) {
          const fetched = await components.fetchDag(root, {})
          if (fetched.via === 'bitswap') throw new JobStateError(`${root} (of ${source.ref}) is not held here and no connected peer could send it`)
        }
      })
      return await components.guard.shared(async () => await submit(project, spec, meta))
    },

    /** The jobs of a project (every project's without one): the log's rows, this node's own as it follows them. */
    async list (options: { project?: string } = {}): Promise<JobView[]> {
      const projects = options.project != null ? [await components.projects.resolve(options.project)] : await components.projects.all()
      const all: JobView[] = []
      for (const project of projects) {
        for (const row of await components.projects.jobRows(project.id)) {
          const record = await records.get(row.jobId)
          all.push(record != null ? view(record) : rowView(row))
        }
      }
      return all.sort((a, b) => a.project.localeCompare(b.project) || a.projectId.localeCompare(b.projectId) || a.number - b.number)
    },

    async show (ref: string): Promise<JobView> {
      return await find(ref)
    },

    /** every training metric's series: for charts (another member's job: the latest points its log entry carries) */
    async metrics (ref: string): Promise<{ job: string, series: Record<string, MetricPoint[]> }> {
      const { row, record } = await locate(ref)
      if (record == null) return { job: row.ref, series: Object.fromEntries(Object.entries(row.metrics).map(([name, point]) => [name, [point]])) }
      return { job: record.ref, series: await records.metrics(record.jobId) }
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
      let record: JobRecord = located.record
      let last = options.after
      const queue: LogLine[] = []
      let wake: (() => void) | undefined
      const listener = (event: { line?: LogLine, record: JobRecord }): void => {
        if (event.line != null) queue.push(event.line)
        record = event.record
        wake?.()
      }
      if (options.follow) {
        let set = listeners.get(record.jobId)
        if (set == null) listeners.set(record.jobId, set = new Set())
        set.add(listener)
      }
      try {
        for await (const line of records.logs(record.jobId, last)) {
          options.onLine(line)
          last = line.seq
        }
        if (!options.follow) return view(record)
        while (true) {
          for (const line of queue.splice(0)) {
            if (line.seq <= last) continue
            options.onLine(line)
            last = line.seq
          }
          if (isFinal(record.state) || options.signal?.aborted === true) return view(record)
          await new Promise<void>(resolve => {
            wake = resolve
            options.signal?.addEventListener('abort', () => { resolve() }, { once: true })
          })
          wake = undefined
        }
      } finally {
        listeners.get(record.jobId)?.delete(listener)
      }
    },

    async stop (ref: string): Promise<JobView> {
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

    /** Writes a job's output (or, with `what: 'code'`, its code snapshot) to `dest`. */
    async write (ref: string, dest: string, what: 'output' | 'code', options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<ExportSummary & { cid: string }> {
      const record = await find(ref)
      const cid = what === 'code' ? record.spec.code : record.outputCid
      if (cid == null) throw new JobStateError(`job ${record.ref} has no output yet (it is ${record.state})`)
      const root = CID.parse(cid)
      const fetched = await components.fetchDag(root, { signal: options.signal })
      if (fetched.via === 'bitswap') throw new JobStateError(`the ${what} of ${record.ref} (${cid}) is not held here and no connected peer could send it`)
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
    async close (): Promise<void> {
      shutdown.abort(new Error('the daemon is stopping'))
      await reconciler.stop()
      for (const entry of active.values()) entry.channel?.abort(new Error('the daemon is stopping'))
      await Promise.all([...active.values()].map(async entry => await entry.done))
      await Promise.all([...progressTurns.values()])
    }
  }
}

export type JobService = ReturnType<typeof jobService>

function view (record: JobRecord): JobView {
  const { signedReceipt: _s, disputedReceipt: _d, leaseId: _l, logBase: _b, ...rest } = record
  // records written before metrics were kept have none
  return { ...rest, metrics: rest.metrics ?? {} }
}
