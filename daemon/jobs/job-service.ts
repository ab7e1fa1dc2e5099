import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { isFinal, type LogLine } from '../../protocol/jobs/job.js'
import { parseMetricLine, type MetricPoint } from '../../protocol/jobs/metrics.js'
import { encodeJobSpec, jobSpecView, mountProblem, shapeRequirements, specCid, type JobSpec } from '../../protocol/jobs/spec.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { Requirements, type RequirementsInput } from '../../protocol/market/requirements.js'
import type { Progress } from '../../protocol/api/routes.js'
import { exportDag, importPath, snapshotIgnore, type ExportSummary } from '../content/index.js'
import type { FetchDagOutcome } from '../content/fetch-dag.js'
import type { Logger } from '../log.js'
import type { MatchResult } from '../market/match.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { syncBlocks } from '../store/stores.js'
import { readBlock } from '../transfer/index.js'
import { InvalidJobError, JobNotFoundError, JobStateError, NoProviderError, UnknownEnvironmentError } from './errors.js'
import { runJob, type Candidates, type RunnerComponents } from './job-runner.js'
import { jobRecords, type JobRecord } from './records.js'
import { reliabilityTally } from './reliability.js'
import { DEFAULT_PROJECT, parseJobOutputRef, parseJobRef } from './refs.js'

export interface JobServiceComponents {
  self: string
  privateKey: PrivateKey
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  index: Parameters<typeof jobRecords>[0]
  pins: PinSet
  guard: GcGuard
  fetchDag: (root: CID, options: { signal?: AbortSignal }) => Promise<FetchDagOutcome>
  /** a dataset ref (NAME, NAME:N, CID) → its root */
  resolveDataRef: (ref: string) => Promise<CID>
  /** ranks the live offers for a shape; `idle`: as if no provider were running anything */
  match: (requirements: Requirements, options: { idle?: boolean, reliability: (peer: string) => number | undefined }) => MatchResult
  /** environment names some live offer or this node holds */
  knownEnvironments: () => Promise<Set<string>>
  open: RunnerComponents['open']
  log: Logger
}

export interface RunRequest {
  /** the code folder on this machine */
  path: string
  command: string[]
  environment: string
  requirements: RequirementsInput
  data: Array<{ ref: string, mount: string }>
  timeoutSeconds: number
  maxPricePerHour?: number
  provider?: string
  retries: number
  message: string
}

/** The environment every node knows: the image the set-up builds. */
export const BUILTIN_ENVIRONMENT = 'busybox'

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
  let numbering: Promise<unknown> = Promise.resolve()
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
  const save = async (record: JobRecord, lines: LogLine[] = []): Promise<void> => {
    const points = []
    for (const line of lines) {
      const found = line.stream === 'stdout' ? parseMetricLine(line.line, line.at) : null
      if (found == null) continue
      points.push({ metric: found.metric, seq: line.seq, point: found.point })
      record.metrics = { ...record.metrics, [found.metric]: found.point }
    }
    await records.appendLog(record.jobId, lines, points)
    // lines alone need no sync: after a crash the provider sends again what was not kept
    await records.put(record, { sync: lines.length === 0 })
    reliability.update(record)
    notify(record, lines)
  }

  const requirementsOf = (record: Pick<JobRecord, 'spec' | 'maxPricePerHour'>): Requirements => Requirements.parse({
    ...shapeRequirements(record.spec),
    environment: record.spec.environment,
    ...(record.maxPricePerHour != null ? { maxPricePerHour: record.maxPricePerHour } : {}),
    ...(record.spec.network ? { network: true } : {})
  })

  /** Ranked providers, or why there are none (each excluded offer with its reasons). */
  const candidates = (record: Pick<JobRecord, 'spec' | 'maxPricePerHour' | 'requestedProvider'>, exclude: ReadonlySet<string> = new Set()): Candidates => {
    const wanted = record.requestedProvider
    const usable = (peerId: string): boolean => !exclude.has(peerId) && (wanted == null || peerId === wanted)
    const result = components.match(requirementsOf(record), { reliability: reliability.of })
    const ranked = result.ranked.filter(r => usable(r.peerId))
    if (ranked.length > 0) return { providers: ranked.map(r => ({ peerId: r.peerId, costPerHour: r.costPerHour })), why: '', busy: false }
    // Nothing free now as the book says; those that fit once their running jobs end are asked
    // anyway (the book may be behind), and while they answer busy the job waits.
    const idle = components.match(requirementsOf(record), { idle: true, reliability: reliability.of }).ranked.filter(r => usable(r.peerId))
    const busy = idle.length > 0
    if (busy) return { providers: idle.map(r => ({ peerId: r.peerId, costPerHour: r.costPerHour })), why: 'every provider that fits is busy', busy }
    const excluded = result.excluded.filter(e => wanted == null || e.peerId === wanted)
    if (wanted != null && excluded.length === 0 && !exclude.has(wanted)) return { providers: [], why: `provider ${wanted} has no live offer; see floe providers`, busy }
    if (excluded.length === 0 && result.ranked.length === 0) return { providers: [], why: 'no provider offers capacity: turn provider mode on (floe provider on) or connect to a provider (floe connect)', busy }
    const reasons = excluded.map(e => `${e.peerId === components.self ? 'this node' : e.peerId}: ${e.reasons.join(', ')}`)
    if (exclude.size > 0) reasons.push(`already tried: ${[...exclude].join(', ')}`)
    return { providers: [], why: `no provider can take this job — ${reasons.join('; ')}`, busy }
  }

  const resolveInput = async (ref: string): Promise<CID> => {
    const jobRef = parseJobOutputRef(ref)
    if (jobRef == null) return await components.resolveDataRef(ref)
    const record = await find(jobRef)
    if (record.outputCid == null) throw new JobStateError(`job ${record.ref} has no output (it is ${record.state}); mount the output of a finished job`)
    return CID.parse(record.outputCid)
  }

  const find = async (ref: string): Promise<JobRecord> => {
    const parsed = parseJobRef(ref)
    const jobId = 'jobId' in parsed ? parsed.jobId : await records.byNumber(parsed.project, parsed.number)
    const record = jobId == null ? undefined : await records.get(jobId)
    if (record == null) throw new JobNotFoundError(`no job ${ref}; see floe status`)
    return record
  }

  const start = (record: JobRecord): void => {
    const stop = new AbortController()
    const entry = { stop, channel: null as MessageChannel | null, done: Promise.resolve() }
    entry.done = runJob({
      self: components.self,
      privateKey: components.privateKey,
      open: components.open,
      candidates: (r, exclude) => candidates(r, exclude),
      specBytes: async r => await readBlock(components.blockstore, CID.parse(r.specCid)),
      save,
      collect: async (r, receipt) => { await collect(r, receipt.outputCid, receipt.logsCid) },
      log
    }, record, { stop: stop.signal, shutdown: shutdown.signal, onChannel: channel => { entry.channel = channel } })
      .catch((err: Error) => { log.error({ jobId: record.jobId, err: err.message }, 'job runner failed') })
      .finally(() => { active.delete(record.jobId) })
    active.set(record.jobId, entry)
  }

  /** Fetches the output and logs from the provider and pins them under the job's ref. */
  const collect = async (record: JobRecord, output: CID | null, logs: CID | null): Promise<void> => {
    await components.guard.shared(async () => {
      for (const cid of [output, logs]) {
        if (cid == null) continue
        await components.pins.add(cid, `output:${record.ref}`)
        const fetched = await components.fetchDag(cid, {})
        if (fetched.via === 'bitswap') throw new Error(`no connected peer could send ${cid}`)
      }
      await syncBlocks(components.blocksPath)
    })
  }

  return {
    async run (request: RunRequest, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<JobView> {
      if (request.command.length === 0 || request.command.every(arg => arg.trim() === '')) throw new InvalidJobError('no command given: put it after --, e.g. floe run -- python train.py')
      const known = await components.knownEnvironments()
      known.add(BUILTIN_ENVIRONMENT)
      if (!known.has(request.environment)) {
        throw new UnknownEnvironmentError(`unknown environment "${request.environment}": no provider offers it and this node holds none by that name (known: ${[...known].sort().join(', ')})`)
      }
      const problem = mountProblem(request.data.map(d => d.mount))
      if (problem != null) throw new InvalidJobError(problem)
      const inputs: Array<{ ref: string, cid: CID, mount: string }> = []
      for (const data of request.data) inputs.push({ ref: data.ref, cid: await resolveInput(data.ref), mount: data.mount })
      let requirements: Requirements
      try {
        requirements = Requirements.parse(request.requirements)
      } catch (err: any) {
        throw new InvalidJobError(`bad resources: ${err?.issues?.map((i: any) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? err?.message}`)
      }
      const draft = {
        spec: {
          code: '',
          inputs: [],
          environment: request.environment,
          command: request.command,
          resources: { cpus: requirements.cpus, memoryBytes: requirements.memoryBytes, gpus: requirements.gpus, ...(requirements.gpuModel != null ? { gpuModel: requirements.gpuModel } : {}), ...(requirements.minGpuMemoryBytes != null ? { minGpuMemoryBytes: requirements.minGpuMemoryBytes } : {}) },
          timeoutSeconds: request.timeoutSeconds,
          network: requirements.network === true
        },
        maxPricePerHour: request.maxPricePerHour ?? null,
        requestedProvider: request.provider ?? null
      }
      const placeable = candidates(draft)
      if (placeable.providers.length === 0 && !placeable.busy) throw new NoProviderError(placeable.why)

      // Code snapshot, spec block and job record: pinned before gc may run again.
      return await components.guard.shared(async () => {
        const code = await importPath(components.blockstore, request.path, {
          ignore: await snapshotIgnore(request.path),
          signal: options.signal,
          onProgress: p => options.onProgress?.({ phase: 'import', bytes: p.bytes, totalBytes: p.totalBytes })
        })
        const spec: JobSpec = {
          version: 1,
          code: code.cid,
          inputs: inputs.map(input => ({ cid: input.cid, mount: input.mount })),
          environment: draft.spec.environment,
          command: draft.spec.command,
          resources: draft.spec.resources,
          timeoutSeconds: draft.spec.timeoutSeconds,
          network: draft.spec.network
        }
        let bytes: Uint8Array
        try {
          bytes = encodeJobSpec(spec)
        } catch (err: any) {
          throw new InvalidJobError(err?.message ?? String(err))
        }
        const cid = await specCid(bytes)
        await components.blockstore.put(cid, bytes)
        await syncBlocks(components.blocksPath)
        const turn = numbering.then(async () => {
          const now = new Date().toISOString()
          const record = await records.create({
            jobId: randomBytes(16).toString('hex'),
            project: DEFAULT_PROJECT,
            message: request.message,
            createdAt: now,
            specCid: cid.toString(),
            spec: jobSpecView(spec),
            inputs: inputs.map(input => ({ ref: input.ref, cid: input.cid.toString(), mount: input.mount })),
            maxPricePerHour: draft.maxPricePerHour,
            requestedProvider: draft.requestedProvider,
            retries: request.retries,
            state: 'queued',
            states: [{ state: 'queued', at: now }],
            provider: null,
            pricePerHour: null,
            attempts: [],
            exitCode: null,
            reason: null,
            outputCid: null,
            logsCid: null,
            receipt: null,
            logLines: 0,
            metrics: {},
            signedReceipt: null,
            leaseId: null,
            logBase: 0
          })
          await components.pins.add(cid, `job:${record.ref}`)
          return record
        })
        numbering = turn.catch(() => {})
        const record = await turn
        log.info({ jobId: record.jobId, ref: record.ref, specCid: record.specCid }, 'job created')
        start(record)
        return view(record)
      })
    },

    async list (): Promise<JobView[]> {
      const all: JobView[] = []
      for await (const record of records.all()) all.push(view(record))
      return all.sort((a, b) => a.project.localeCompare(b.project) || a.number - b.number)
    },

    async show (ref: string): Promise<JobView> {
      return view(await find(ref))
    },

    /** every training metric's series: for charts */
    async metrics (ref: string): Promise<{ job: string, series: Record<string, MetricPoint[]> }> {
      const record = await find(ref)
      return { job: record.ref, series: await records.metrics(record.jobId) }
    },

    /**
     * Every log line after `after`, then (with `follow`) each new one as it arrives, until the
     * job ends; resolves with the job as it is then.
     */
    async logs (ref: string, options: { after: number, follow: boolean, signal?: AbortSignal, onLine: (line: LogLine) => void }): Promise<JobView> {
      let record = await find(ref)
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
      const record = await find(ref)
      if (isFinal(record.state)) throw new JobStateError(`job ${record.ref} has already ended (${record.state})`)
      const entry = active.get(record.jobId)
      if (entry == null) throw new JobStateError(`job ${record.ref} is not being followed by this daemon`)
      entry.stop.abort(new Error('stopped by the user'))
      await entry.done
      return view(await find(ref))
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

    /** Picks up every unfinished job: followed again on its provider, or matched again. */
    /** a provider's 0..1 record of carrying this node's jobs to an end (undefined: none yet) */
    reliability: (peer: string): number | undefined => reliability.of(peer),

    async start (): Promise<void> {
      for await (const record of records.all()) {
        reliability.update(record)
        if (!isFinal(record.state) && !active.has(record.jobId)) {
          log.info({ jobId: record.jobId, ref: record.ref, state: record.state }, 'resuming a job after a restart')
          start(record)
        }
      }
    },

    /** Stops following jobs (they go on at their providers; the next start follows them again). */
    async close (): Promise<void> {
      shutdown.abort(new Error('the daemon is stopping'))
      for (const entry of active.values()) entry.channel?.abort(new Error('the daemon is stopping'))
      await Promise.all([...active.values()].map(async entry => await entry.done))
    }
  }
}

export type JobService = ReturnType<typeof jobService>

function view (record: JobRecord): JobView {
  const { signedReceipt: _s, leaseId: _l, logBase: _b, ...rest } = record
  // records written before metrics were kept have none
  return { ...rest, metrics: rest.metrics ?? {} }
}
