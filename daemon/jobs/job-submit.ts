import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import type { z } from 'zod'
import type { RerunRequest as RerunRequestSchema, RunRequest as RunRequestSchema } from '../../protocol/api/routes.js'
import type { Progress } from '../../protocol/progress.js'
import { encodeJobSpec, jobSpecView, specCid, type JobSpec } from '../../protocol/jobs/spec.js'
import type { SignedReceipt } from '../../protocol/jobs/receipt.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { RequirementsInput } from '../../protocol/market/requirements.js'
import type { EntryPayload } from '../../protocol/projects/entry.js'
import { importPath, snapshotRules } from '../content/index.js'
import { DEFAULT_WARN_UPLOAD } from '../../protocol/jobs/run-config.js'
import { snapshotLine, type CodeSnapshot } from '../../protocol/jobs/code-snapshot.js'
import { readRunConfig } from './run-config-file.js'
import type { RequireDag } from '../content/require-dag.js'
import type { Logger } from '../log.js'
import type { JobRow } from '../projects/job-rows.js'
import type { ProjectMeta } from '../projects/log-store.js'
import type { ProjectLog } from '../projects/project-log.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { syncBlocks } from '../store/stores.js'
import { takeTurns } from '../turns.js'
import { InvalidJobError } from './errors.js'
import type { jobChecks } from './job-checks.js'
import { signedReceiptOf } from './job-entries.js'
import { pinReasons } from '../store/pin-reasons.js'
import { recordView, type JobRecord, type JobRecords } from './records.js'

/** `floe run`, as the API's schema gives it, and for a workspace (daemon/workspaces) its home and timers. */
export type RunRequest = z.output<typeof RunRequestSchema> & {
  /** a workspace, not a batch job (its command keeps the container up) */
  workspace?: { home: string | null, idleTimeoutSeconds: number, snapshotSeconds: number }
}

/** `floe rerun`, as the API's schema gives it: a job's spec again, with what is given changed. */
export type RerunRequest = z.output<typeof RerunRequestSchema> & {
  /** a workspace's restart: the home it starts from (its saved home) */
  workspaceHome?: string | null
  /** a workspace's restart: the /code it starts from (saved with the home), instead of the source's code */
  workspaceCode?: string
}

export interface JobSubmitComponents {
  blockstore: Pick<Blockstore, 'put'>
  blocksPath: string
  pins: PinSet
  guard: GcGuard
  requireDag: RequireDag
  projects: ProjectLog
  records: Pick<JobRecords, 'put'>
  checks: Pick<ReturnType<typeof jobChecks>, 'checkShape' | 'checkInputs'>
  /** a job by ref, this node's or another member's */
  find: (ref: string) => Promise<JobView>
  /** the project a ref names; this node's default project without one */
  projectOf: (ref: string | null | undefined) => Promise<ProjectMeta>
  /** the project-log writes of this node's jobs under way (their endings): `rerun --reuse` waits for them */
  logged: () => Promise<void>
  /** hands a new job to its runner */
  start: (record: JobRecord) => void
  log: Logger
}

/**
 * Submitting jobs: checks a request before anything runs (command, environment, refs,
 * mounts, an offer that fits), snapshots the code folder, stores the spec, records the job in
 * its project's log and here, then hands it to the runner.
 */
export function jobSubmission (components: JobSubmitComponents) {
  const { checks, log } = components
  const numbering = takeTurns()

  /**
   * The code folder as a DAG; with no folder, an empty one. Its ignore files and its run
   * config's `ignore:` apply; once listed, what it holds and leaves out is reported (a
   * progress event with `snapshot`) before the files are read.
   */
  const snapshotCode = async (path: string | undefined, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void }): Promise<{ cid: CID }> => {
    const folder = path ?? await mkdtemp(join(tmpdir(), 'floe-empty-code-'))
    try {
      const config = path == null ? null : await readRunConfig(folder)
      const rules = await snapshotRules(folder, config == null ? undefined : { name: config.file, patterns: config.ignore })
      return await importPath(components.blockstore, folder, {
        ignore: rules.ignore,
        explainIgnored: rules.explain,
        signal: options.signal,
        onWalked: tree => {
          const by = Object.entries(tree.ignored?.by ?? {}).sort((a, b) => b[1].bytes - a[1].bytes || b[1].files - a[1].files)
          const snapshot: CodeSnapshot = {
            files: tree.files,
            bytes: tree.bytes,
            ignoredFiles: tree.ignored?.files ?? 0,
            ignoredBytes: tree.ignored?.bytes ?? 0,
            ignoredBy: by.filter(([, count]) => count.files > 0).map(([name]) => name).slice(0, 16),
            ignoredCapped: tree.ignored?.capped ?? false,
            config: config?.file ?? null,
            warnUpload: config?.warnUpload ?? DEFAULT_WARN_UPLOAD
          }
          options.onProgress?.({ phase: 'import', bytes: 0, totalBytes: tree.bytes, message: `code: ${snapshotLine(snapshot)}`, snapshot })
        },
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
  const submit = async (project: ProjectMeta, spec: JobSpec, meta: { message: string, inputs: Array<{ ref: string, cid: CID, mount: string }>, maxPricePerHour?: number, maxCost?: number, provider?: string, retries: number, deterministic?: boolean }, reused?: JobRow): Promise<JobView> => {
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
        maxCost: meta.maxCost ?? null,
        requestedProvider: meta.provider ?? null,
        retries: meta.retries,
        signedReceipt: row.signedReceipt,
        leaseId: null,
        logBase: 0
      }
      await components.records.put(record)
      await pinReasons.job(record.ref).add(components.pins, cid)
      if (reused != null) {
        for (const content of [record.outputCid, record.logsCid]) if (content != null) await pinReasons.output(record.ref).add(components.pins, CID.parse(content))
      }
      return record
    })
    log.info({ jobId: record.jobId, ref: record.ref, specCid: record.specCid, reusedFrom: record.reusedFrom }, record.reusedFrom != null ? 'job reused an earlier output' : 'job created')
    if (reused == null) components.start(record)
    return recordView(record)
  }

  return {
    async run (request: RunRequest, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<JobView> {
      if (request.command.length === 0 || request.command.every(arg => arg.trim() === '')) throw new InvalidJobError('no command given: put it after --, e.g. floe run -- python train.py')
      const project = await components.projectOf(request.project)
      const inputs = await checks.checkInputs(request.data)
      const shape = await checks.checkShape(request, request.environment, request.requirements)
      // Code snapshot, spec block and job record: pinned before gc may run again.
      return await components.guard.shared(async () => {
        const code = await snapshotCode(request.path, options)
        const spec: JobSpec = { version: 1, code: code.cid, inputs: inputs.map(input => ({ cid: input.cid, mount: input.mount })), ...shape }
        if (request.workspace != null) spec.workspace = { ...request.workspace, home: request.workspace.home == null ? null : CID.parse(request.workspace.home) }
        if (request.serve != null) spec.serve = [...request.serve]
        return await submit(project, spec, { ...request, inputs })
      })
    },

    /**
     * `floe rerun`: the job's spec with the changes given, as a new job in the same project.
     * With `reuse`, an earlier success of the resulting spec marked deterministic returns its
     * output at once (the new entry says whose); without one, it runs.
     */
    async rerun (request: RerunRequest, options: { signal?: AbortSignal, onProgress?: (p: Progress) => void } = {}): Promise<JobView> {
      const source = await components.find(request.ref)
      const project = await components.projects.resolve(source.projectId)
      const inputs = request.data != null
        ? await checks.checkInputs(request.data)
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
      const shape = await checks.checkShape({ ...request, command, timeoutSeconds: request.timeoutSeconds ?? source.spec.timeoutSeconds }, environment, requirements, { reusable: request.reuse })
      const spec: JobSpec = { version: 1, code: CID.parse(request.workspaceCode ?? source.spec.code), inputs: inputs.map(input => ({ cid: input.cid, mount: input.mount })), ...shape }
      // the same environment is the same image: the spec (and --reuse) stays that of the source
      const sourceImage = source.spec.image
      if (request.environment == null && sourceImage != null) spec.image = { cid: CID.parse(sourceImage.cid), id: sourceImage.id, bytes: sourceImage.bytes }
      const workspace = source.spec.workspace
      if (workspace != null) {
        const home = request.workspaceHome !== undefined ? request.workspaceHome : workspace.home
        spec.workspace = { idleTimeoutSeconds: workspace.idleTimeoutSeconds, snapshotSeconds: workspace.snapshotSeconds, home: home == null ? null : CID.parse(home) }
      }
      if (source.spec.serve != null) spec.serve = [...source.spec.serve]
      const meta = {
        message: request.message ?? source.message,
        inputs,
        maxPricePerHour: request.maxPricePerHour ?? source.maxPricePerHour ?? undefined,
        provider: request.provider,
        retries: request.retries ?? source.retries,
        deterministic: request.deterministic ?? source.deterministic
      }
      if (request.reuse) {
        // this node's own jobs' endings may still be on their way into the log
        await components.logged()
        const cid = (await specCid(encodeJobSpec(spec))).toString()
        const earlier = (await components.projects.jobsWithSpec(project.id, cid)).find(row => row.state === 'success' && row.deterministic && row.signedReceipt != null)
        if (earlier != null) return await submit(project, spec, meta, earlier)
      }
      if (request.path != null) {
        // `floe restart`: the code folder as it is now, in place of the job's snapshot
        const folder = request.path
        return await components.guard.shared(async () => {
          spec.code = (await snapshotCode(folder, options)).cid
          for (const input of spec.inputs) await components.requireDag(input.cid)
          return await submit(project, spec, meta)
        })
      }
      // the code (and inputs) may be another member's: held here before a provider asks for them
      await components.guard.shared(async () => {
        for (const root of [spec.code, ...spec.inputs.map(input => input.cid), ...(spec.workspace?.home != null ? [spec.workspace.home] : [])]) {
          await components.requireDag(root)
        }
      })
      return await components.guard.shared(async () => await submit(project, spec, meta))
    }
  }
}

export type JobSubmission = ReturnType<typeof jobSubmission>
