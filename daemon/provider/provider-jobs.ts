import { randomBytes } from 'node:crypto'
import { lchown, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import type { Offer } from '../../protocol/market/offer.js'
import type { ProviderSettings } from '../../protocol/market/settings.js'
import { isFinal, type JobState, type LogLine } from '../../protocol/jobs/job.js'
import { decodeReceipt, encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt, type SignedReceipt } from '../../protocol/jobs/receipt.js'
import { decodeJobSpec, type JobSpec } from '../../protocol/jobs/spec.js'
import { HOME_SAVED } from '../../protocol/workspaces/tunnel.js'
import { decodeJobRequest, type JobRequest, type RefusalReason } from '../../protocol/jobs/wire.js'
import { exportDag, importPath, type ImportSummary } from '../content/index.js'
import type { FetchDagOutcome } from '../content/fetch-dag.js'
import type { Logger } from '../log.js'
import type { Allocated } from '../market/build-offer.js'
import { signRecord } from '../p2p/signing.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { syncBlocks } from '../store/stores.js'
import type { EnvironmentCache, EnvironmentFetch } from '../environments/environment-cache.js'
import { takeTurns } from '../turns.js'
import { admitJob } from './admission.js'
import { createJobContainer, followJobContainer, listJobContainers, removeJobContainer, type ContainerOutcome, type Runtime } from './executor.js'
import { canMakeJobDisks, createJobDisk, JOB_OWNER, jobDiskPaths, openJobDisk, removeJobDisk, type JobDisk } from './job-disk.js'
import { inputCache } from './input-cache.js'
import { openJobLog, type JobLog } from './job-log.js'
import type { ServedJob } from '../../protocol/jobs/view.js'
import { fromBase64, providerJobRecords, toBase64, type ProviderJobRecord } from './records.js'

export interface ProviderJobsComponents {
  self: string
  privateKey: PrivateKey
  docker: () => Promise<Docker>
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  index: Parameters<typeof providerJobRecords>[0]
  pins: PinSet
  guard: GcGuard
  /** makes a DAG whole locally, from the client or any connected peer */
  fetchDag: (root: CID, options: { signal?: AbortSignal }) => Promise<FetchDagOutcome>
  settings: () => ProviderSettings
  /** this provider's offer as of now, with `allocated` taken off */
  currentOffer: (allocated: Allocated) => Promise<Offer>
  /** environment name → image, for those held */
  environments: () => Promise<Map<string, string>>
  /** images jobs bring (spec.image): whether one may come, and fetching and loading it */
  environmentCache?: Pick<EnvironmentCache, 'plan' | 'prepare'>
  /** called when jobs start or end, so the offer follows */
  onCapacityChange: () => void
  /** folders: per-job work (code and output copies, log) and the shared input cache */
  jobsRoot: string
  inputsRoot: string
  log: Logger
}

/** How a client follows its job on the provider (see job-server.ts). */
export interface FollowHandle {
  state(): { state: JobState, at: number }
  receipt(): SignedReceipt | undefined
  /** at most `max` log lines after `after` */
  read(after: number, max: number): Promise<LogLine[]>
  lastSeq(): number
  /** resolves on a log line after `after`, a state change, the end, or `signal` */
  changed(after: number, signal: AbortSignal): Promise<void>
}

interface LiveJob {
  record: ProviderJobRecord
  request: JobRequest
  spec: JobSpec
  log: JobLog
  cancel: AbortController
  /** woken when the job's state changes or it finishes (new log lines: log.waitFor) */
  watchers: Set<() => void>
  receipt?: SignedReceipt
  /** a workspace's last terminal or port traffic (ms since the epoch) */
  activeAt: number
  /** why it was stopped when not by its client (a workspace left idle) */
  stopReason?: string
}

export type Submission =
  | { accepted: true, jobId: string, leaseId: string, pricePerHour: number, gpus: number[] }
  | { accepted: false, reason: RefusalReason, message: string }

/** When the job was being prepared, started and exited in its container (null: it did not get there). */
type PhaseTimes = Pick<Receipt['times'], 'preparingAt' | 'runningAt' | 'exitedAt'>

/** How often a running workspace checks whether it is idle or due a save of its home. */
const WORKSPACE_TICK_MS = 1_000

/** How often finished jobs past their pickup time are cleaned up. */
const CLEANUP_INTERVAL_MS = 60_000

/**
 * The provider side of jobs: admits signed requests, runs each accepted job (fetch inputs →
 * container → import output and log → signed receipt), tells attached clients what happens,
 * and keeps every job's record in the index so a restarted daemon finds its containers by
 * label and resumes them. A job does not depend on its client staying: its output stays
 * pinned for `keepOutputSeconds` after it ends, for pickup, then is cleaned up.
 */
export function providerJobs (components: ProviderJobsComponents) {
  const { log } = components
  const records = providerJobRecords(components.index)
  const inputs = inputCache(components.inputsRoot, components.blockstore, { maxBytes: () => components.settings().maxInputCacheBytes, maxEntries: () => components.settings().maxJobFiles, log })
  const jobs = new Map<string, LiveJob>()
  const running = new Set<Promise<void>>()
  let cleanupTimer: NodeJS.Timeout | undefined
  const expiries = new Set<NodeJS.Timeout>()
  const admitting = takeTurns()
  let life = new AbortController()

  const allocated = (): Allocated => {
    const held = [...jobs.values()].filter(job => !isFinal(job.record.state))
    return {
      jobs: held.length,
      cpus: held.reduce((sum, job) => sum + job.spec.resources.cpus, 0),
      memoryBytes: held.reduce((sum, job) => sum + job.spec.resources.memoryBytes, 0),
      gpus: held.flatMap(job => job.record.gpus)
    }
  }

  const changed = (job: LiveJob): void => {
    for (const wake of job.watchers) wake()
    job.watchers.clear()
  }

  const setState = async (job: LiveJob, state: JobState, message?: string): Promise<void> => {
    const at = Date.now()
    job.record.state = state
    job.record.states.push({ state, at })
    await records.put(job.record)
    log.info({ jobId: job.record.jobId, state, message }, 'job state')
    changed(job)
  }

  const systemLine = (job: LiveJob, line: string): void => {
    job.log.append({ at: Date.now(), stream: 'system', line })
  }

  const jobDir = (jobId: string): string => join(components.jobsRoot, jobId)

  /** where a job's code copy (/code), output (/output), scratch (/tmp) and home live: folders of its own disk */
  const workDirs = (jobId: string): JobDisk => jobDiskPaths(jobDir(jobId))

  /** the job's budgets: its disk holds its code, /tmp and /output; inputs and a home are bounded too */
  const budgets = () => {
    const settings = components.settings()
    return {
      disk: { bytes: settings.scratchBytes + settings.maxOutputBytes, inodes: settings.maxJobFiles },
      code: { maxBytes: settings.scratchBytes, maxEntries: settings.maxJobFiles },
      output: { maxBytes: settings.maxOutputBytes, maxEntries: settings.maxJobFiles }
    }
  }

  /** the engine's runtimes, asked once: whether runsc (gVisor) is there */
  let engineRuntimes: Promise<Set<string>> | undefined
  const runtimeFor = async (docker: Docker, job: LiveJob): Promise<Runtime> => {
    const wanted = components.settings().runtime
    if (wanted !== 'auto') return wanted
    if (job.record.gpus.length > 0) return 'runc'
    engineRuntimes ??= docker.info().then((info: { Runtimes?: Record<string, unknown> }) => new Set(Object.keys(info.Runtimes ?? {})), (err: Error) => {
      engineRuntimes = undefined
      throw err
    })
    return (await engineRuntimes).has('runsc') ? 'runsc' : 'runc'
  }

  const receiptOf = (job: LiveJob): Receipt | null => job.receipt == null ? null : decodeReceipt(job.receipt.payload)

  const live = async (record: ProviderJobRecord): Promise<LiveJob> => {
    const request = decodeJobRequest(fromBase64(record.request))
    await mkdir(jobDir(record.jobId), { recursive: true })
    return {
      record,
      request,
      spec: decodeJobSpec(request.spec),
      log: await openJobLog(join(jobDir(record.jobId), 'log.ndjson')),
      cancel: new AbortController(),
      watchers: new Set(),
      activeAt: Date.now(),
      ...(record.receipt != null ? { receipt: { payload: fromBase64(record.receipt.payload), signature: fromBase64(record.receipt.signature) } } : {})
    }
  }

  const imageCache = components.environmentCache
  const submit = async (bytes: Uint8Array, signature: Uint8Array, remotePeer: string): Promise<Submission> => {
    // One admission at a time: two requests must not both take the last free slot.
    return await admitting(async () => {
      const settings = components.settings()
      if (settings.enabled && !canMakeJobDisks()) {
        return { accepted: false as const, reason: 'not-allowed' as const, message: 'this provider cannot run jobs safely: its daemon is not root, and jobs need their own user and a size-limited disk' }
      }
      const admission = await admitJob(bytes, signature, {
        self: components.self,
        remotePeer,
        settings,
        offer: await components.currentOffer(allocated()),
        environments: await components.environments(),
        imageOf: imageCache == null ? undefined : async spec => await imageCache.plan(spec),
        known: jobId => jobs.has(jobId),
        now: Date.now()
      })
      if (!admission.accepted) return admission
      const now = Date.now()
      const record: ProviderJobRecord = {
        jobId: admission.request.jobId,
        leaseId: randomBytes(16).toString('hex'),
        client: remotePeer,
        request: toBase64(bytes),
        signature: toBase64(signature),
        pricePerHour: admission.pricePerHour,
        gpus: admission.gpus,
        acceptedAt: now,
        state: 'queued',
        states: [{ state: 'queued', at: now }],
        containerId: null,
        receipt: null,
        keepUntil: null
      }
      await records.put(record)
      const job = await live(record)
      jobs.set(record.jobId, job)
      log.info({ jobId: record.jobId, client: remotePeer, specCid: admission.specCid.toString(), price: admission.pricePerHour, image: admission.image }, 'job accepted')
      track(execute(job, { image: admission.image, resume: false }))
      components.onCapacityChange()
      return { accepted: true as const, jobId: record.jobId, leaseId: record.leaseId, pricePerHour: record.pricePerHour, gpus: record.gpus }
    })
  }

  const track = (work: Promise<void>): void => {
    running.add(work)
    void work.finally(() => { running.delete(work) })
  }

  /** Runs (or, after a restart, resumes) one job to its receipt; never rejects. */
  const execute = async (job: LiveJob, options: { image: string | null, resume: boolean }): Promise<void> => {
    const { jobId } = job.record
    const disk = workDirs(jobId)
    const signal = job.cancel.signal
    const times: PhaseTimes = { preparingAt: null, runningAt: null, exitedAt: null }
    /** inputs held in the cache for this job, released when it ends */
    const held: CID[] = []
    const hold = async (cid: CID): Promise<string> => {
      const path = await inputs.acquire(cid, signal)
      held.push(cid)
      return path
    }
    let outcome: ContainerOutcome | undefined
    let failure: string | null = null
    /** the environment's fetch and load, when the job brought one this provider lacked */
    let environment: EnvironmentFetch | undefined
    let releaseImage = (): void => {}
    try {
      const docker = await components.docker()
      if (job.record.containerId == null) {
        await setState(job, 'preparing')
        times.preparingAt = Date.now()
        await prepare(job, signal)
        let image = options.image ?? (await components.environments()).get(job.spec.environment)
        if (job.spec.image != null && imageCache != null) {
          const prepared = await imageCache.prepare(job.spec, { signal, onLine: line => { systemLine(job, line) } })
          releaseImage = prepared.release
          image = prepared.image
          if (prepared.fetched != null) environment = prepared.fetched
        }
        if (image == null) throw new Error(`environment "${job.spec.environment}" is no longer held here`)
        signal.throwIfAborted()
        const runtime = await runtimeFor(docker, job)
        systemLine(job, `runtime: ${runtime === 'runsc' ? 'runsc (gVisor)' : 'runc'}`)
        job.record.containerId = await createJobContainer(docker, {
          jobId,
          client: job.record.client,
          provider: components.self,
          image,
          command: job.spec.command,
          jobRoot: jobDir(jobId),
          inputsRoot: components.inputsRoot,
          codeDir: disk.code,
          outputDir: disk.output,
          tmpDir: disk.tmp,
          runtime,
          inputs: await mountsOf(job, hold),
          ...(job.spec.workspace != null ? { homeDir: disk.home } : {}),
          cpus: job.spec.resources.cpus,
          memoryBytes: job.spec.resources.memoryBytes,
          gpus: await gpuUuids(job),
          network: job.spec.network
        })
        releaseImage()
        await records.put(job.record)
      } else {
        // its disk (mounted again after a machine restart) and inputs are in use: held until it ends
        await openJobDisk(jobDir(jobId))
        await mountsOf(job, hold)
        times.preparingAt = job.record.states.find(s => s.state === 'preparing')?.at ?? null
        systemLine(job, 'the provider restarted; following the job again')
      }
      if (job.record.state !== 'running') await setState(job, 'running')
      const watching = job.spec.workspace != null ? watchWorkspace(job, disk.home, docker) : undefined
      try {
        outcome = await followJobContainer(docker, job.record.containerId, {
          timeoutMs: job.spec.timeoutSeconds * 1000,
          logsSince: options.resume ? job.log.lastContainerAt() : undefined,
          onLog: line => { job.log.append(line) },
          stop: signal,
          detach: life.signal,
          log
        })
      } finally {
        watching?.stop()
      }
      times.runningAt = outcome.startedAt
      times.exitedAt = outcome.exitedAt
    } catch (err: any) {
      // The daemon is stopping: the container runs on and the next start follows it again.
      if (life.signal.aborted) return
      failure = signal.aborted ? null : (err?.message ?? String(err))
      if (failure != null) log.warn({ jobId, err: failure }, 'job failed before it ended in its container')
    } finally {
      releaseImage()
    }
    await conclude(job, { outcome, failure, times, held, environment })
  }

  /**
   * Ends a job however it went: its output (when it ran) and log imported and pinned for
   * pickup, a signed receipt, then the container, the job's copies and its hold on inputs let go.
   */
  const conclude = async (job: LiveJob, ended: { outcome?: ContainerOutcome, failure: string | null, times: PhaseTimes, held: CID[], environment?: EnvironmentFetch }): Promise<void> => {
    const { outcome, failure, times, held } = ended
    const { jobId } = job.record
    const disk = workDirs(jobId)
    const signal = job.cancel.signal
    let state: Receipt['state'] = outcome != null ? endState(outcome) : signal.aborted ? 'stopped' : 'failed'
    let reason = failure ?? job.stopReason ?? (outcome != null ? endReason(outcome) : 'stopped before it ran')
    if (reason != null) systemLine(job, reason)
    await setState(job, 'uploading')
    let output: { cid: CID, bytes: number } | null = null
    let logs: CID | null = null
    // a workspace's output is its home, saved however it ended
    const ran = outcome != null || job.spec.workspace != null
    if (ran) {
      try {
        const imported = await importJobFolder(job.spec.workspace != null ? disk.home : disk.output)
        output = { cid: imported.cid, bytes: imported.bytes }
      } catch (err: any) {
        const why = err?.name === 'ContentTooLargeError'
          ? `${err.message as string}: past the provider's max-output of ${components.settings().maxOutputBytes} bytes, nothing was imported`
          : `could not import the output: ${err?.message ?? err}`
        log.warn({ jobId, err: err?.message }, 'could not import the output')
        systemLine(job, why)
        state = 'failed'
        reason = why
      }
    }
    try {
      logs = await uploadLog(job, output)
    } catch (err: any) {
      log.error({ jobId, err: err?.message }, 'could not import the log')
    }
    await unpinInputs(job)

    const runMs = times.runningAt != null && times.exitedAt != null ? Math.max(0, times.exitedAt - times.runningAt) : 0
    const receipt: Receipt = {
      version: 1,
      jobId,
      leaseId: job.record.leaseId,
      specCid: job.request.specCid,
      provider: components.self,
      client: job.record.client,
      state,
      exitCode: outcome?.exitCode ?? null,
      reason,
      times: { acceptedAt: job.record.acceptedAt, ...times, uploadedAt: Date.now() },
      preparingMs: times.preparingAt != null && times.runningAt != null ? Math.max(0, times.runningAt - times.preparingAt) : 0,
      runMs,
      ...(ended.environment != null ? { environment: ended.environment } : {}),
      usage: {
        cpuSeconds: outcome?.usage.cpuSeconds ?? 0,
        peakMemoryBytes: outcome?.usage.peakMemoryBytes ?? 0,
        gpuSeconds: job.record.gpus.length * runMs / 1000
      },
      pricePerHour: job.record.pricePerHour,
      cost: Math.round(job.record.pricePerHour * runMs / 3_600_000 * 1e6) / 1e6,
      outputCid: output?.cid ?? null,
      outputBytes: output?.bytes ?? 0,
      logsCid: logs
    }
    await finish(job, receipt)
    // Off the client's path: the container and the job's copies are not needed any more.
    if (job.record.containerId != null) {
      await removeJobContainer(await components.docker(), job.record.containerId).catch((err: Error) => { log.warn({ jobId, err: err.message }, 'could not remove the container') })
    }
    await removeJobDisk(jobDir(jobId)).catch((err: Error) => { log.warn({ jobId, err: err.message }, 'could not remove the job disk') })
    if (job.record.snapshot != null) await components.pins.remove(CID.parse(job.record.snapshot), `workspace-snapshot:${jobId}`)
    for (const cid of held) inputs.release(cid)
    await inputs.evict().catch((err: Error) => { log.warn({ err: err.message }, 'could not trim the input cache') })
  }

  /**
   * Fetches the job's code, inputs and home, makes its disk, and writes its code (and home)
   * into it for the job's user. Every write is bounded by the job's budgets (declared sizes
   * before, bytes written while), and no link in the content is ever followed.
   */
  const prepare = async (job: LiveJob, signal: AbortSignal): Promise<void> => {
    const home = job.spec.workspace?.home ?? null
    const roots = [job.spec.code, ...job.spec.inputs.map(input => input.cid), ...(home != null ? [home] : [])]
    await components.guard.shared(async () => {
      for (const root of roots) await components.pins.add(root, `job-input:${job.record.jobId}`)
    })
    for (const root of roots) {
      const fetched = await components.fetchDag(root, { signal })
      if (fetched.via === 'bitswap') throw new Error(`could not fetch ${root} from the client or any connected peer`)
      if (fetched.via === 'bulk') systemLine(job, `fetched ${root} (${fetched.bytes} bytes) from ${fetched.peer ?? 'a peer'} in ${fetched.ms} ms`)
    }
    const limits = budgets()
    const disk = await createJobDisk(jobDir(job.record.jobId), limits.disk)
    await exportDag(components.blockstore, job.spec.code, disk.code, { signal, budget: limits.code, owner: JOB_OWNER })
    if (job.spec.workspace == null) return
    if (home != null) {
      await exportDag(components.blockstore, home, disk.home, { signal, budget: limits.output, owner: JOB_OWNER })
      systemLine(job, `home restored from ${home.toString()}`)
    } else {
      await mkdir(disk.home)
      await lchown(disk.home, JOB_OWNER.uid, JOB_OWNER.gid)
    }
  }

  /**
   * Imports a folder of a job's disk: walked as one file system (a link, or a folder swapped
   * for one, never leads off the job's disk), each file opened without following links and
   * checked to be the file listed, within the output budget. Called when the job's container
   * has stopped, or while it is paused.
   */
  const importJobFolder = async (folder: string): Promise<ImportSummary> => {
    return await components.guard.shared(async () => {
      const imported = await importPath(components.blockstore, folder, { budget: budgets().output, oneFileSystem: true })
      await syncBlocks(components.blocksPath)
      return imported
    })
  }

  /**
   * While a workspace runs: its home saved every `snapshotSeconds` (a system line names each
   * save, so the client fetches and keeps it: a crash here loses at most one interval), and
   * the workspace stopped, home saved, after `idleTimeoutSeconds` without terminal or port
   * traffic.
   */
  const watchWorkspace = (job: LiveJob, homeDir: string, docker: Docker): { stop: () => void } => {
    const spec = job.spec.workspace as NonNullable<JobSpec['workspace']>
    job.activeAt = Date.now()
    let saving = false
    let lastSave = Date.now()
    const tick = async (): Promise<void> => {
      const now = Date.now()
      if (now - job.activeAt > spec.idleTimeoutSeconds * 1000 && !job.cancel.signal.aborted) {
        job.stopReason = `stopped: idle for ${spec.idleTimeoutSeconds} s (no terminal or port traffic)`
        systemLine(job, job.stopReason)
        job.cancel.abort(new Error(job.stopReason))
        return
      }
      if (saving || now - lastSave < spec.snapshotSeconds * 1000) return
      saving = true
      try {
        // Frozen while its home is read: nothing in the container can change what is walked.
        const container = docker.getContainer(job.record.containerId as string)
        await container.pause()
        let imported: ImportSummary
        try {
          imported = await importJobFolder(homeDir)
        } finally {
          await container.unpause()
        }
        const saved = await components.guard.shared(async () => {
          await components.pins.add(imported.cid, `workspace-snapshot:${job.record.jobId}`)
          if (job.record.snapshot != null && job.record.snapshot !== imported.cid.toString()) await components.pins.remove(CID.parse(job.record.snapshot), `workspace-snapshot:${job.record.jobId}`)
          return imported
        })
        job.record.snapshot = saved.cid.toString()
        await records.put(job.record)
        lastSave = Date.now()
        systemLine(job, `${HOME_SAVED} ${saved.cid.toString()} (${saved.bytes} bytes)`)
      } finally {
        saving = false
      }
    }
    const timer = setInterval(() => { tick().catch((err: Error) => { log.warn({ jobId: job.record.jobId, err: err.message }, 'could not save the workspace home') }) }, WORKSPACE_TICK_MS)
    return { stop: () => { clearInterval(timer) } }
  }

  /** each input's host path (held in the cache), in order */
  const mountsOf = async (job: LiveJob, hold: (cid: CID) => Promise<string>): Promise<Array<{ hostPath: string, mount: string }>> => {
    const mounts: Array<{ hostPath: string, mount: string }> = []
    for (const input of job.spec.inputs) mounts.push({ hostPath: await hold(input.cid), mount: input.mount })
    return mounts
  }

  const unpinInputs = async (job: LiveJob): Promise<void> => {
    const home = job.spec.workspace?.home ?? null
    for (const root of [job.spec.code, ...job.spec.inputs.map(input => input.cid), ...(home != null ? [home] : [])]) {
      await components.pins.remove(root, `job-input:${job.record.jobId}`)
    }
  }

  /** Imports the job's log, and pins it and the output (already imported) for pickup. */
  const uploadLog = async (job: LiveJob, output: { cid: CID } | null): Promise<CID | null> => {
    return await components.guard.shared(async () => {
      const reason = `job-output:${job.record.jobId}`
      await job.log.close()
      let logs: CID | null = null
      if (job.log.lastSeq() > 0) logs = (await importPath(components.blockstore, job.log.path)).cid
      await syncBlocks(components.blocksPath)
      if (output != null) await components.pins.add(output.cid, reason)
      if (logs != null) await components.pins.add(logs, reason)
      return logs
    })
  }

  const finish = async (job: LiveJob, receipt: Receipt): Promise<void> => {
    const payload = encodeReceipt(receipt)
    const signed: SignedReceipt = { payload, signature: await signRecord(components.privateKey, RECEIPT_SIGNING_DOMAIN, payload) }
    job.receipt = signed
    job.record.receipt = { payload: toBase64(payload), signature: toBase64(signed.signature) }
    job.record.keepUntil = Date.now() + components.settings().keepOutputSeconds * 1000
    expireAt(job.record.keepUntil)
    await setState(job, receipt.state, receipt.reason ?? undefined)
    log.info({ jobId: job.record.jobId, state: receipt.state, exitCode: receipt.exitCode, output: receipt.outputCid?.toString(), cost: receipt.cost }, 'job finished')
    components.onCapacityChange()
  }

  const gpuUuids = async (job: LiveJob): Promise<string[]> => {
    if (job.record.gpus.length === 0) return []
    const offer = await components.currentOffer({ jobs: 0, cpus: 0, memoryBytes: 0, gpus: [] })
    return job.record.gpus.map(index => {
      const gpu = offer.gpus.find(g => g.index === index)
      if (gpu == null) throw new Error(`GPU ${index} assigned to the job is no longer shared`)
      return gpu.uuid
    })
  }

  /** A cleanup when a job's pickup time has passed (the periodic one covers what a restart forgot). */
  const expireAt = (when: number): void => {
    if (when - Date.now() > CLEANUP_INTERVAL_MS) return
    const timer = setTimeout(() => {
      expiries.delete(timer)
      cleanup().catch((err: Error) => { log.warn({ err: err.message }, 'job cleanup failed') })
    }, Math.max(0, when - Date.now()) + 10)
    timer.unref()
    expiries.add(timer)
  }

  /** Finished jobs past their pickup time: output unpinned, files and record removed. */
  const cleanup = async (): Promise<void> => {
    const now = Date.now()
    for (const job of [...jobs.values()]) {
      if (job.record.keepUntil == null || job.record.keepUntil > now) continue
      const receipt = receiptOf(job)
      jobs.delete(job.record.jobId)
      for (const cid of [receipt?.outputCid, receipt?.logsCid]) if (cid != null) await components.pins.remove(cid, `job-output:${job.record.jobId}`)
      await removeJobDisk(jobDir(job.record.jobId))
      await rm(jobDir(job.record.jobId), { recursive: true, force: true })
      await records.del(job.record.jobId)
      log.info({ jobId: job.record.jobId }, 'job output past its pickup time: cleaned up')
    }
  }

  /**
   * After a restart: each unfinished job is resumed — followed again when its container is
   * still there (running or exited), run from the start when it had not reached one, or
   * ended as failed when its container is gone. Containers of jobs this node has no record
   * of are removed.
   */
  const reconcile = async (): Promise<void> => {
    for await (const record of records.all()) {
      const job = await live(record)
      jobs.set(record.jobId, job)
    }
    // Docker is only asked when there is something to resume or clean up (dockerode costs memory).
    const unfinished = [...jobs.values()].some(job => !isFinal(job.record.state))
    const docker = unfinished || components.settings().enabled ? await components.docker().catch(() => undefined) : undefined
    const containers = docker == null ? [] : await listJobContainers(docker, components.self).catch((err: Error) => { log.warn({ err: err.message }, 'could not list job containers'); return [] })
    for (const container of containers) {
      if (jobs.get(container.jobId)?.record.containerId === container.id) continue
      log.warn({ container: container.id, jobId: container.jobId }, 'removing a container of this provider that has no running job')
      if (docker != null) await removeJobContainer(docker, container.id)
    }
    for (const job of jobs.values()) {
      if (isFinal(job.record.state)) continue
      const has = job.record.containerId != null && containers.some(c => c.id === job.record.containerId)
      if (job.record.containerId != null && !has) {
        log.warn({ jobId: job.record.jobId }, 'the container of a running job is gone')
        job.record.containerId = null
        track(conclude(job, { failure: 'the container was gone when the provider restarted', times: { preparingAt: null, runningAt: null, exitedAt: null }, held: [] }))
        continue
      }
      log.info({ jobId: job.record.jobId, state: job.record.state }, 'resuming a job after a restart')
      track(execute(job, { image: null, resume: has }))
    }
  }

  return {
    submit,
    allocated,
    /**
     * A client's view of its job, to follow it: the current state, log lines from any point,
     * the receipt once there is one, and a wait for the next change. Undefined when the peer
     * has no such job here.
     */
    follow (jobId: string, client: string): FollowHandle | undefined {
      const job = jobs.get(jobId)
      if (job == null || job.record.client !== client) return undefined
      return {
        state: () => job.record.states[job.record.states.length - 1] ?? { state: job.record.state, at: job.record.acceptedAt },
        receipt: () => job.receipt,
        read: async (after, max) => await job.log.read(after, max),
        lastSeq: () => job.log.lastSeq(),
        async changed (after, signal) {
          if (signal.aborted) return
          const stop = new AbortController()
          const wake = (): void => { stop.abort() }
          job.watchers.add(wake)
          try {
            await job.log.waitFor(after, AbortSignal.any([signal, stop.signal]))
          } finally {
            job.watchers.delete(wake)
          }
        }
      }
    },
    /**
     * A running workspace of this client's, for a terminal or a forwarded port: its container,
     * and `touch` to count traffic (what keeps it from the idle stop).
     */
    workspace (jobId: string, client: string): { containerId: string, touch: () => void } | undefined {
      const job = jobs.get(jobId)
      if (job == null || job.record.client !== client || job.spec.workspace == null) return undefined
      if (job.record.state !== 'running' || job.record.containerId == null || job.cancel.signal.aborted) return undefined
      job.activeAt = Date.now()
      return { containerId: job.record.containerId, touch: () => { job.activeAt = Date.now() } }
    },
    cancel (jobId: string, client: string): boolean {
      const job = jobs.get(jobId)
      if (job == null || job.record.client !== client) return false
      if (!isFinal(job.record.state)) {
        systemLine(job, 'stopped by the client')
        job.cancel.abort(new Error('stopped by the client'))
      }
      return true
    },
    /**
     * Whether `peer` is the client of a job here whose output, logs or saved workspace home is
     * `root`: the client may fetch those from this provider (daemon/transfer/entitlement.ts).
     */
    servesClient (root: string, peer: string): boolean {
      for (const job of jobs.values()) {
        if (job.record.client !== peer) continue
        const receipt = receiptOf(job)
        if (job.record.snapshot === root || receipt?.outputCid?.toString() === root || receipt?.logsCid?.toString() === root) return true
      }
      return false
    },
    /** jobs this provider holds (running, or finished and kept for pickup), newest first */
    list (): ServedJob[] {
      return [...jobs.values()]
        .sort((a, b) => b.record.acceptedAt - a.record.acceptedAt)
        .map(job => {
          const receipt = receiptOf(job)
          return {
            jobId: job.record.jobId,
            client: job.record.client,
            specCid: job.request.specCid.toString(),
            environment: job.spec.environment,
            command: job.spec.command,
            state: job.record.state,
            acceptedAt: new Date(job.record.acceptedAt).toISOString(),
            pricePerHour: job.record.pricePerHour,
            cost: receipt?.cost ?? null,
            exitCode: receipt?.exitCode ?? null,
            outputCid: receipt?.outputCid?.toString() ?? null,
            keepUntil: job.record.keepUntil == null ? null : new Date(job.record.keepUntil).toISOString(),
            logLines: job.log.lastSeq()
          }
        })
    },
    async start (): Promise<void> {
      if (cleanupTimer != null) return
      life = new AbortController()
      await mkdir(components.jobsRoot, { recursive: true })
      await mkdir(components.inputsRoot, { recursive: true })
      await reconcile()
      await cleanup()
      cleanupTimer = setInterval(() => { cleanup().catch((err: Error) => { log.warn({ err: err.message }, 'job cleanup failed') }) }, CLEANUP_INTERVAL_MS)
      cleanupTimer.unref()
    },
    /**
     * Stops following jobs without stopping them: their containers keep running, and the
     * next start resumes them.
     */
    async stop (): Promise<void> {
      if (life.signal.aborted) return
      life.abort(new Error('the daemon is stopping'))
      clearInterval(cleanupTimer)
      cleanupTimer = undefined
      for (const timer of expiries) clearTimeout(timer)
      expiries.clear()
      await Promise.all([...running])
      for (const job of jobs.values()) await job.log.close()
    }
  }
}

export type ProviderJobs = ReturnType<typeof providerJobs>

function endState (outcome: ContainerOutcome): Receipt['state'] {
  switch (outcome.ending) {
    case 'timeout': return 'timeout'
    case 'stopped': return 'stopped'
    default: return outcome.exitCode === 0 ? 'success' : 'failed'
  }
}

function endReason (outcome: ContainerOutcome): string | null {
  switch (outcome.ending) {
    case 'timeout': return 'killed: past its time limit'
    case 'stopped': return 'stopped by the client'
    default:
      if (outcome.oomKilled) return `killed: out of memory (exit code ${outcome.exitCode ?? 'none'})`
      return outcome.exitCode === 0 ? null : `exit code ${outcome.exitCode ?? 'none'}`
  }
}
