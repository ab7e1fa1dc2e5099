import type Docker from 'dockerode'
import type { CID } from 'multiformats/cid'
import type { EnvironmentFetch } from '../environments/environment-cache.js'
import { concludeJob, type ConcludeJobComponents } from './conclude-job.js'
import { createJobContainer, followJobContainer, type ContainerOutcome, type Runtime } from './executor.js'
import type { inputCache } from './input-cache.js'
import { jobDiskPaths, openJobDisk } from './job-disk.js'
import { systemLine, type JobTable, type LiveJob, type PhaseTimes } from './live-job.js'
import { prepareJob, type PrepareJobComponents } from './prepare-job.js'
import type { ProviderJobsComponents } from './provider-jobs.js'
import { systemSampler } from './system-sampler.js'
import { watchWorkspace, type WorkspaceWatchComponents } from './workspace-watch.js'

export type RunJobComponents = PrepareJobComponents & ConcludeJobComponents & WorkspaceWatchComponents &
  Pick<ProviderJobsComponents, 'environments' | 'environmentCache' | 'currentOffer' | 'inputsRoot'> & {
    table: Pick<JobTable, 'dir' | 'records' | 'setState'>
    inputs: Pick<ReturnType<typeof inputCache>, 'acquire' | 'release' | 'evict'>
    /** the provider's life: aborted when the daemon stops, which detaches from containers without stopping them */
    life: () => AbortSignal
  }

/**
 * The run pipeline of one job: prepare (fetch, job disk, export) → container → follow it to
 * its end (a workspace watched meanwhile) → conclude (output, log, receipt, cleanup). After
 * a restart a job that had a container is followed again instead; one that had not is run
 * from the start.
 */
export function jobRunner (components: RunJobComponents) {
  const { log, table } = components
  const imageCache = components.environmentCache

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

  /** the GPUs assigned at admission (indexes), as the engine names them */
  const gpuUuids = async (job: LiveJob): Promise<string[]> => {
    if (job.record.gpus.length === 0) return []
    const offer = await components.currentOffer({ jobs: 0, cpus: 0, memoryBytes: 0, gpus: [] })
    return job.record.gpus.map(index => {
      const gpu = offer.gpus.find(g => g.index === index)
      if (gpu == null) throw new Error(`GPU ${index} assigned to the job is no longer shared`)
      return gpu.uuid
    })
  }

  /** each input's host path (held in the cache), in order */
  const mountsOf = async (job: LiveJob, hold: (cid: CID) => Promise<string>): Promise<Array<{ hostPath: string, mount: string }>> => {
    const mounts: Array<{ hostPath: string, mount: string }> = []
    for (const input of job.spec.inputs) mounts.push({ hostPath: await hold(input.cid), mount: input.mount })
    return mounts
  }

  /** Runs (or, after a restart, resumes) one job to its receipt; never rejects. */
  const run = async (job: LiveJob, options: { image: string | null, resume: boolean }): Promise<void> => {
    const { jobId } = job.record
    const disk = jobDiskPaths(table.dir(jobId))
    const signal = job.cancel.signal
    const life = components.life()
    const times: PhaseTimes = { preparingAt: null, runningAt: null, exitedAt: null }
    /** inputs held in the cache for this job, released when it ends */
    const held: CID[] = []
    const hold = async (cid: CID): Promise<string> => {
      const path = await components.inputs.acquire(cid, signal)
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
        await table.setState(job, 'preparing')
        times.preparingAt = Date.now()
        await prepareJob(components, job, signal)
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
          jobRoot: table.dir(jobId),
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
        // the container keeps the image now (the engine removes no image a container uses): the cache's hold can go
        releaseImage()
        await table.records.put(job.record)
      } else {
        // its disk (mounted again after a machine restart) and inputs are in use: held until it ends
        await openJobDisk(table.dir(jobId))
        await mountsOf(job, hold)
        times.preparingAt = job.record.states.find(s => s.state === 'preparing')?.at ?? null
        systemLine(job, 'the provider restarted; following the job again')
      }
      const watching = job.spec.workspace != null ? watchWorkspace(components, job, { home: disk.home, code: disk.code }, docker) : undefined
      const sampler = systemSampler(job, { cpus: job.spec.resources.cpus, diskMount: disk.mount, gpus: job.record.gpus, log })
      try {
        outcome = await followJobContainer(docker, job.record.containerId, {
          timeoutMs: job.spec.timeoutSeconds * 1000,
          logsSince: options.resume ? job.log.lastContainerAt() : undefined,
          onLog: line => { job.log.append(line) },
          stop: signal,
          detach: life,
          log,
          onStats: sampler.onStats,
          onStarted: async () => { if (job.record.state !== 'running') await table.setState(job, 'running') }
        })
      } finally {
        watching?.stop()
      }
      times.runningAt = outcome.startedAt
      times.exitedAt = outcome.exitedAt
    } catch (err: any) {
      // The daemon is stopping: the container runs on and the next start follows it again.
      if (life.aborted) return
      failure = signal.aborted ? null : (err?.message ?? String(err))
      if (failure != null) log.warn({ jobId, err: failure }, 'job failed before it ended in its container')
    } finally {
      releaseImage()
    }
    await concludeJob(components, job, { outcome, failure, times, held, environment })
  }

  return { run }
}

export type JobRunner = ReturnType<typeof jobRunner>
