import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { TunnelRequest } from '../../protocol/workspaces/tunnel.js'
import type { Requirements, RequirementsInput } from '../../protocol/market/requirements.js'
import type { JobService, RunRequest } from '../jobs/job-service.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { FORWARD_HOST, portForwards, type Forward } from '../forwards/port-forwards.js'
import { WorkspaceStateError } from './errors.js'

/** A workspace's command: it only keeps the container up (terminals and ports are exec'd); SIGTERM ends it at once. */
export const KEEPALIVE = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done']

/** Where forwarded ports listen (daemon/forwards/port-forwards.ts says why). */
export { FORWARD_HOST }

/** How often forwards of workspaces that ended are closed. */
const FORWARD_SWEEP_MS = 5_000

export interface WorkspaceStart {
  name: string
  path?: string
  environment: string
  requirements: Requirements
  data: Array<{ ref: string, mount: string }>
  maxPricePerHour?: number
  provider?: string
  project?: string
  timeoutSeconds: number
  idleTimeoutSeconds: number
  snapshotSeconds: number
}

export type { Forward }

export interface WorkspaceServiceComponents {
  jobs: Pick<JobService, 'run' | 'rerun' | 'show' | 'list' | 'stopJob'>
  /** a tunnel conversation with the provider running the workspace */
  openTunnel: (provider: string, signal: AbortSignal) => Promise<MessageChannel>
  log: Logger
}

/**
 * Workspaces, the client's side: a workspace is a job whose spec says so (its container stays
 * up, its home is saved as its output); this service starts, restarts (home restored, on any
 * provider) and lists them, opens terminals and forwards local ports to them through
 * `/floe/tunnel/1.0.0`.
 */
export function workspaceService (components: WorkspaceServiceComponents) {
  const ports = portForwards(components)
  /** A forward lives as long as its workspace runs. */
  const sweep = async (): Promise<void> => {
    for (const forward of ports.list('workspace')) {
      const job = await components.jobs.show(forward.ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) ports.closeRef(forward.ref)
    }
  }
  const sweeper = setInterval(() => { sweep().catch((err: Error) => { components.log.debug({ err: err.message }, 'could not check forwarded ports') }) }, FORWARD_SWEEP_MS)
  sweeper.unref()

  const target = (job: JobView): { ref: string, jobId: string, provider: string } => ({ ref: job.ref, jobId: job.jobId, provider: job.provider as string })

  const running = async (ref: string): Promise<JobView> => {
    const job = await components.jobs.show(ref)
    if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace`)
    if (job.state === 'lost') throw new WorkspaceStateError(`workspace ${job.ref} is lost: its provider vanished${job.homeCid != null ? ` (its home was last saved as ${job.homeCid})` : ''}; restart it elsewhere with floe workspace restart ${job.ref}`)
    if (isFinal(job.state)) throw new WorkspaceStateError(`workspace ${job.ref} is ${job.state}; restart it with floe workspace restart ${job.ref}`)
    if (job.state !== 'running' || job.provider == null) throw new WorkspaceStateError(`workspace ${job.ref} is ${job.state}, not running yet; try again in a moment`)
    return job
  }

  /** A tunnel to a running workspace, open and ready (the provider's exec started). */
  const tunnel = async (ref: string, open: TunnelRequest, signal?: AbortSignal): Promise<{ channel: MessageChannel, job: JobView }> => {
    const job = await running(ref)
    const { channel } = await ports.open(target(job), open, signal)
    return { channel, job }
  }

  return {
    tunnel,

    async startWorkspace (request: WorkspaceStart): Promise<JobView> {
      const run: RunRequest = {
        ...(request.path != null ? { path: request.path } : {}),
        command: KEEPALIVE,
        environment: request.environment,
        requirements: request.requirements,
        data: request.data,
        timeoutSeconds: request.timeoutSeconds,
        ...(request.maxPricePerHour != null ? { maxPricePerHour: request.maxPricePerHour } : {}),
        ...(request.provider != null ? { provider: request.provider } : {}),
        retries: 0,
        message: request.name,
        deterministic: false,
        ...(request.project != null ? { project: request.project } : {}),
        workspace: { home: null, idleTimeoutSeconds: request.idleTimeoutSeconds, snapshotSeconds: request.snapshotSeconds }
      }
      return await components.jobs.run(run)
    },

    /**
     * A new workspace from this one's spec, its home restored (as saved when it stopped; for a
     * lost one, as last saved while it ran), on the provider the shape now picks. A running one
     * is stopped (and its home saved) first.
     */
    async restart (ref: string, changes: { requirements?: Partial<RequirementsInput>, environment?: string, provider?: string, maxPricePerHour?: number } = {}): Promise<JobView> {
      let job = await components.jobs.show(ref)
      if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace`)
      if (!isFinal(job.state)) job = await components.jobs.stopJob(job.ref)
      const home = job.outputCid ?? job.homeCid ?? job.spec.workspace?.home ?? null
      ports.closeRef(job.ref)
      return await components.jobs.rerun({ ref: job.ref, ...changes, reuse: false, workspaceHome: home })
    },

    async list (): Promise<{ workspaces: JobView[], ports: Forward[] }> {
      await sweep()
      return { workspaces: (await components.jobs.list()).filter(job => job.spec.workspace != null), ports: ports.list('workspace') }
    },

    /** Listens on FORWARD_HOST:`local` (0: any free port) and relays each connection to `remote` inside the workspace. */
    async forward (ref: string, remote: number, local = 0): Promise<Forward> {
      const job = await running(ref)
      if (!await ports.probe(target(job), remote)) throw new WorkspaceStateError(`nothing listens on port ${remote} inside workspace ${job.ref}; start the server there first (e.g. in floe shell ${job.ref})`)
      return await ports.forward(job.ref, 'workspace', async () => target(await running(job.ref)), remote, local)
    },

    /**
     * `floe shell WS --detach -- COMMAND`: a background process in the workspace (no
     * terminal, its output appended to a log in the home) that outlives this call and any
     * terminal; the workspace's stop ends it.
     */
    async detach (ref: string, command: string[]): Promise<{ ref: string, id: string, log: string }> {
      if (command.length === 0) throw new WorkspaceStateError('no command given: put it after --, e.g. floe shell WS --detach -- python serve.py')
      const job = await running(ref)
      const { channel, answer } = await ports.open(target(job), { type: 'detach', command })
      await channel.close().catch(() => {})
      if (answer.type !== 'detached') throw new WorkspaceStateError(`${job.ref}: the provider answered ${answer.type}`)
      return { ref: job.ref, id: answer.id, log: answer.log }
    },

    async stop (): Promise<void> {
      clearInterval(sweeper)
      ports.stop()
    }
  }
}

export type WorkspaceService = ReturnType<typeof workspaceService>
