import type Docker from 'dockerode'
import type { Container, ContainerInspectInfo, HostConfig } from 'dockerode'
import type { Logger } from '../log.js'
import { inspectContainer, shortId, startContainer, terminateContainer } from './container-control.js'
import { followLogs, type LogLine } from './container-logs.js'
import { UsageMeter, type ContainerStats, type Usage } from './container-usage.js'
import { dockerTimeToMs } from './docker-time.js'
import { dockerMessage, dockerStatus, ExecutorError } from './errors.js'
import { HOME_MOUNT } from '../../protocol/jobs/spec.js'
import { CODE_MOUNT, jobBinds } from './job-mounts.js'
import { pause } from './pause.js'

export { ExecutorError } from './errors.js'
export { MAX_LINE_BYTES, type LogLine } from './container-logs.js'

/** Container label whose value is the job's id. */
export const JOB_LABEL = 'org.floe.job'
/** Container label whose value is the peer id of the client the job runs for. */
export const CLIENT_LABEL = 'org.floe.client'
/** value: the provider's peer id */
export const PROVIDER_LABEL = 'org.floe.provider'

export const DEFAULT_PIDS_LIMIT = 512
/** SIGTERM to SIGKILL when a job is stopped on request, as `docker stop`'s default. */
export const STOP_GRACE_MS = 5_000
/** SIGTERM to SIGKILL when a job overran its time or output: it had its chance already. */
export const LIMIT_GRACE_MS = 2_000
/** The unprivileged user every job runs as (`nobody` on most systems), never the daemon's own. */
export const NOBODY = '65534:65534'

/**
 * Container runtimes a provider may use: runc (Linux namespaces and cgroups, the host's
 * kernel) or runsc (gVisor: a user-space kernel between the job and the host's).
 */
export type Runtime = 'runc' | 'runsc'

/** How often a running job's usage is sampled and its output measured. */
const TICK_MS = 1_000
/** setTimeout fires at once for longer delays, so a farther deadline is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1
/**
 * json-file keeps the logs on disk for `docker logs` and for following again after a daemon
 * restart; rotation bounds what a job printing without end can put there.
 */
const LOG_CONFIG = { Type: 'json-file', Config: { 'max-size': '64m', 'max-file': '2' } }

export interface ContainerPlan {
  jobId: string
  client: string
  /** the provider's peer id: a daemon only ever reconciles its own containers (several may share one engine) */
  provider: string
  /** image reference or id; it must already be on this machine (nothing is pulled) */
  image: string
  /** argv (Cmd); the entrypoint is the image's */
  command: string[]
  /** the job's own folder on this host: every read-write mount lies inside it (job-mounts.ts proves it) */
  jobRoot: string
  /** the input cache's folder: every input lies inside it */
  inputsRoot: string
  /** host folder, bind-mounted read-write at /code, the working directory */
  codeDir: string
  /** host folder, empty, bind-mounted read-write at /output */
  outputDir: string
  /** host folder, empty, bind-mounted read-write at /tmp (the root file system is read-only) */
  tmpDir: string
  /** each bind-mounted read-only at its mount */
  inputs: Array<{ hostPath: string, mount: string }>
  /** the container runtime; runc when not given */
  runtime?: Runtime
  /** a workspace's home: bind-mounted read-write at /home/floe, its HOME and working directory */
  homeDir?: string
  cpus: number
  /** the memory limit, swap included (there is no swap beyond it) */
  memoryBytes: number
  /** GPU uuids handed to the job through the nvidia runtime; none when empty */
  gpus: string[]
  /** false: the job has no network at all, only loopback */
  network: boolean
  /** the most processes and threads the job may have, DEFAULT_PIDS_LIMIT when not given */
  pidsLimit?: number
}

export type Ending = 'exited' | 'timeout' | 'stopped'

export interface ContainerOutcome {
  ending: Ending
  /** the container's exit code (137 when killed); null when it never ran */
  exitCode: number | null
  oomKilled: boolean
  /**
   * ms since the epoch, Docker's State.StartedAt, or the first line's time when that is earlier
   * (the engine stamps StartedAt after the process may already have printed); 0 when it never ran
   */
  startedAt: number
  /** ms since the epoch, Docker's State.FinishedAt (never before startedAt); 0 when it never ran */
  exitedAt: number
  usage: Usage
}

export interface FollowOptions {
  /** wall-clock limit counted from the container's StartedAt, so a resumed follow keeps the original deadline */
  timeoutMs: number
  /**
   * Called in order, once per line: lines end at `\n` (or `\r\n`), a final unterminated line is
   * delivered too, and lines over MAX_LINE_BYTES come in pieces of that size. A throw stops
   * following (the container runs on) and rejects with that error.
   */
  onLog: (line: LogLine) => void
  /** ms since the epoch: lines with `at` at or before it are skipped (following again after a daemon restart) */
  logsSince?: number
  /** aborted: the container is stopped (SIGTERM, SIGKILL STOP_GRACE_MS later), ending 'stopped' */
  stop?: AbortSignal
  /**
   * aborted: following stops but the container runs on, and the call rejects with an error
   * named 'AbortError'. Follow it again later with `logsSince` set to the last line's `at`.
   */
  detach?: AbortSignal
  /** where failures that do not end the job are reported (a usage sample) */
  log?: Pick<Logger, 'warn'>
  /** each usage sample's stats as the engine gave them, about once a second (system-sampler.ts) */
  onStats?: (stats: ContainerStats, at: number, startedAt: number) => void
  /**
   * Called once the engine has started the container (or found it started, following again),
   * before anything is followed: a job is `running`, and a workspace takes commands, from then
   * on, not from the start request (which a loaded engine may answer many seconds later).
   */
  onStarted?: () => Promise<void>
}

/** Creates (does not start) the job's container with floe's isolation; returns its id. */
export async function createJobContainer (docker: Docker, plan: ContainerPlan): Promise<string> {
  checkPlan(plan)
  const hostConfig: HostConfig = {
    Binds: await jobBinds(plan),
    ...(plan.network ? {} : { NetworkMode: 'none' }),
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    Privileged: false,
    PidsLimit: plan.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    Memory: plan.memoryBytes,
    MemorySwap: plan.memoryBytes,
    NanoCpus: Math.round(plan.cpus * 1e9),
    // Docker's 64 MiB /dev/shm starves data-loader workers (PyTorch); half the memory, at most 2 GiB
    ShmSize: Math.min(Math.floor(plan.memoryBytes / 2), 2 * 1024 ** 3),
    // Nothing a job writes lands on the host's disk outside its own size-limited one: /code,
    // /output, /tmp (and a workspace's home) are folders of the job disk, the rest is read-only.
    ReadonlyRootfs: true,
    ...(plan.runtime != null && plan.runtime !== 'runc' ? { Runtime: plan.runtime } : {}),
    // The caller removes the container once it has the outcome and the logs.
    AutoRemove: false,
    LogConfig: LOG_CONFIG,
    ...(plan.gpus.length > 0 ? { DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: plan.gpus, Capabilities: [['gpu']] }] } : {})
  }
  try {
    const container = await docker.createContainer({
      Image: plan.image,
      Cmd: plan.command,
      User: NOBODY,
      WorkingDir: plan.homeDir != null ? HOME_MOUNT : CODE_MOUNT,
      Labels: { [JOB_LABEL]: plan.jobId, [CLIENT_LABEL]: plan.client, [PROVIDER_LABEL]: plan.provider },
      // a writable home whatever the image: the job runs as a user the image may not know
      Env: [`HOME=${plan.homeDir != null ? HOME_MOUNT : '/tmp'}`],
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      HostConfig: hostConfig
    })
    return container.id
  } catch (err) {
    if (dockerStatus(err) === 404) {
      throw new ExecutorError(`image ${plan.image} is not on this machine (${dockerMessage(err)}); build or load it before offering it`, { cause: err })
    }
    throw new ExecutorError(`could not create the container of job ${plan.jobId}: ${dockerMessage(err)}`, { cause: err })
  }
}

function checkPlan (plan: ContainerPlan): void {
  if (!Number.isFinite(plan.cpus) || plan.cpus <= 0) throw new ExecutorError(`job ${plan.jobId}: cpus must be a positive number, not ${plan.cpus}`)
  if (!Number.isSafeInteger(plan.memoryBytes) || plan.memoryBytes <= 0) throw new ExecutorError(`job ${plan.jobId}: memoryBytes must be a positive whole number, not ${plan.memoryBytes}`)
  const pids = plan.pidsLimit ?? DEFAULT_PIDS_LIMIT
  if (!Number.isSafeInteger(pids) || pids <= 0) throw new ExecutorError(`job ${plan.jobId}: pidsLimit must be a positive whole number, not ${pids}`)
  if (!Array.isArray(plan.command) || plan.command.some(arg => typeof arg !== 'string')) throw new ExecutorError(`job ${plan.jobId}: the command must be a list of strings`)
  if (plan.gpus.some(gpu => typeof gpu !== 'string' || gpu === '')) throw new ExecutorError(`job ${plan.jobId}: GPU ids must be non-empty strings`)
}

/**
 * Starts the container unless it has started already, follows its logs until it exits while
 * enforcing the time and output limits and the stop signal, and returns how it ended. Works
 * as well on a running container (following again after a daemon restart) and on an exited
 * one (the remaining logs and the exit state). Does not remove the container.
 */
export async function followJobContainer (docker: Docker, id: string, options: FollowOptions): Promise<ContainerOutcome> {
  if (options.detach?.aborted === true) throw detachedError(id)
  const container = docker.getContainer(id)
  let info = await inspectContainer(container)
  if (dockerTimeToMs(info.State.StartedAt) === 0) {
    if (options.stop?.aborted === true) return outcomeOf(info, 'stopped', { cpuSeconds: 0, peakMemoryBytes: 0 })
    await startContainer(container)
    info = await inspectContainer(container)
  }
  await options.onStarted?.()
  return await supervise(container, options, dockerTimeToMs(info.State.StartedAt))
}

async function supervise (container: Container, options: FollowOptions, startedAt: number): Promise<ContainerOutcome> {
  const halt = new AbortController() // ends following early: detached, or a kill that failed
  const watching = new AbortController() // ends the deadline, samples and measurements once following is over
  const usage = new UsageMeter()
  let ending: Ending | undefined
  let killing: Promise<void> = Promise.resolve()

  const end = (why: Ending, graceMs: number): void => {
    if (ending != null || watching.signal.aborted) return
    ending = why
    killing = terminateContainer(container, graceMs).then(signalled => {
      // It had exited of itself before the signal: the job ended, not the limit.
      if (!signalled && ending === why) ending = undefined
    }, (err: unknown) => { halt.abort(err) })
  }

  const sampleUsage = async (): Promise<void> => {
    try {
      // dated when asked: ticks start a second apart, however long the engine takes to answer
      const askedAt = Date.now()
      const stats = await usage.sample(container)
      options.onStats?.(stats, askedAt, startedAt)
    } catch (err) {
      options.log?.warn({ err, container: shortId(container.id) }, 'could not sample the usage of a job container')
    }
  }

  const ticking = (async () => {
    while (!watching.signal.aborted) {
      const began = Date.now()
      await sampleUsage()
      await pause(TICK_MS - (Date.now() - began), watching.signal)
    }
  })()

  const clearDeadline = atTime(startedAt + options.timeoutMs, () => { end('timeout', LIMIT_GRACE_MS) })
  const onStop = (): void => { end('stopped', STOP_GRACE_MS) }
  const onDetach = (): void => { halt.abort(detachedError(container.id)) }
  options.stop?.addEventListener('abort', onStop, { once: true })
  options.detach?.addEventListener('abort', onDetach, { once: true })
  if (options.stop?.aborted === true) onStop()
  if (options.detach?.aborted === true) onDetach()

  try {
    let firstLineAt: number | undefined
    const onLog = (line: LogLine): void => {
      firstLineAt ??= line.at
      options.onLog(line)
    }
    const stopped = await followLogs(container, { sinceMs: options.logsSince, onLog, signal: halt.signal })
    watching.abort()
    await ticking
    await killing
    return outcomeOf(stopped, ending ?? 'exited', usage.usage, firstLineAt)
  } finally {
    watching.abort()
    clearDeadline()
    options.stop?.removeEventListener('abort', onStop)
    options.detach?.removeEventListener('abort', onDetach)
    // Neither rejects; awaited so that nothing of this follow is still running when it returns.
    await ticking
    await killing
  }
}

function outcomeOf (info: ContainerInspectInfo, ending: Ending, usage: Usage, firstLineAt?: number): ContainerOutcome {
  const stampedAt = dockerTimeToMs(info.State.StartedAt)
  const startedAt = stampedAt === 0 ? 0 : Math.min(stampedAt, firstLineAt ?? stampedAt)
  // The engine stamps StartedAt once it has seen the start, FinishedAt from containerd's exit
  // event: for a job that ends at once the second can precede the first by a millisecond.
  const exitedAt = startedAt === 0 ? 0 : Math.max(startedAt, dockerTimeToMs(info.State.FinishedAt))
  return {
    ending,
    exitCode: startedAt === 0 ? null : info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    startedAt,
    exitedAt,
    usage
  }
}

function detachedError (id: string): Error {
  return new DOMException(`stopped following container ${shortId(id)}; it runs on`, 'AbortError')
}

/** Calls `action` at the time `when` (ms since the epoch), at once if it has passed; returns a cancel. */
function atTime (when: number, action: () => void): () => void {
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    const wait = when - Date.now()
    timer = wait > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(action, Math.max(0, wait))
  }
  arm()
  return () => { clearTimeout(timer) }
}

/** Force-removes a container and its anonymous volumes; one already gone is not an error. */
export async function removeJobContainer (docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true })
  } catch (err) {
    const status = dockerStatus(err)
    if (status === 404) return
    // Another caller's removal is under way: the container goes either way.
    if (status === 409 && /already in progress/i.test(dockerMessage(err))) return
    throw new ExecutorError(`could not remove container ${shortId(id)}: ${dockerMessage(err)}`, { cause: err })
  }
}

/** Every container, running or not, that carries JOB_LABEL (and, when `provider` is given, that provider's label). */
export async function listJobContainers (docker: Docker, provider?: string): Promise<Array<{ id: string, jobId: string, client: string, running: boolean }>> {
  try {
    const containers = await docker.listContainers({ all: true, filters: { label: [JOB_LABEL, ...(provider != null ? [`${PROVIDER_LABEL}=${provider}`] : [])] } })
    return containers.map(container => ({
      id: container.Id,
      jobId: container.Labels[JOB_LABEL] ?? '',
      client: container.Labels[CLIENT_LABEL] ?? '',
      running: container.State === 'running'
    }))
  } catch (err) {
    throw new ExecutorError(`could not list the job containers: ${dockerMessage(err)}`, { cause: err })
  }
}
