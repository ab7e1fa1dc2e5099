import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { NOTEBOOK_PORT, notebookOf, workspaceCommand, type NotebookMode } from '../../protocol/workspaces/notebook.js'
import type { TunnelRequest } from '../../protocol/workspaces/tunnel.js'
import type { Requirements, RequirementsInput } from '../../protocol/market/requirements.js'
import type { JobService, RunRequest } from '../jobs/job-service.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { FORWARD_HOST, portForwards, type Forward } from '../forwards/port-forwards.js'
import { parseWorkspaceRef, workspaceNameProblem, workspaceRef } from '../../protocol/workspaces/identity.js'
import { takeTurns } from '../turns.js'
import { gitClone } from './git-clone.js'
import { NotebookStartingError, NotebookUnavailableError, WorkspaceExistsError, WorkspaceGitError, WorkspaceNameError, WorkspaceStateError } from './errors.js'
import { startNotebookProxy, type NotebookProxy } from './notebook-proxy.js'

export { KEEPALIVE } from '../../protocol/workspaces/notebook.js'

/** Where forwarded ports listen (daemon/forwards/port-forwards.ts says why). */
export { FORWARD_HOST }

/** How often forwards of workspaces that ended are closed. */
const FORWARD_SWEEP_MS = 5_000

export interface WorkspaceStart {
  name: string
  path?: string
  /** /code from a git repository (a depth-1 clone here, git-clone.ts) instead of `path` */
  git?: { url: string, ref?: string }
  environment: string
  requirements: Requirements
  data: Array<{ ref: string, mount: string }>
  maxPricePerHour?: number
  provider?: string
  project?: string
  timeoutSeconds: number
  idleTimeoutSeconds: number
  snapshotSeconds: number
  /** a Jupyter notebook server in it: `auto` when the environment has one */
  jupyter?: NotebookMode
}

export type { Forward }

/** One run of a workspace: a start or a restart, as `floe workspace history` lists it. */
export interface WorkspaceRun {
  job: string
  jobId: string
  provider: string | null
  state: JobView['state']
  startedAt: string
  endedAt: string | null
  reason: string | null
  /** the home (and /code) it saved last: its output once it ended, else its latest save */
  home: string | null
  /** the save it started from (null: a new, empty home) */
  from: string | null
}

/** A workspace's notebook as the browser opens it: `url` carries the notebook's own token. */
export interface Notebook { ref: string, url: string, host: string, port: number }

export interface WorkspaceServiceComponents {
  jobs: Pick<JobService, 'run' | 'rerun' | 'show' | 'list' | 'stopJob' | 'workspaceRuns'>
  /** a saved workspace's home and /code (daemon/workspaces/saved-workspace.ts) */
  openSaved: (saved: CID) => Promise<{ home: CID, code: CID | null }>
  /** a tunnel conversation with the provider running the workspace */
  openTunnel: (provider: string, signal: AbortSignal) => Promise<MessageChannel>
  log: Logger
  /** tests: a file the notebook proxy appends each forwarded request's headers to */
  notebookHeaderLog?: string
}

/**
 * Workspaces, the client's side: a workspace is a job whose spec says so (its container stays
 * up, its home is saved as its output); this service starts, restarts (home restored, on any
 * provider) and lists them, opens terminals and forwards local ports to them through
 * `/floe/tunnel/1.0.0`.
 */
export function workspaceService (components: WorkspaceServiceComponents) {
  const ports = portForwards(components)
  /** Notebook proxies, by workspace ref (one each, made on the first open). */
  const notebooks = new Map<string, Promise<NotebookProxy>>()
  let socketDir: Promise<string> | undefined
  const closeNotebook = (ref: string): void => {
    const proxy = notebooks.get(ref)
    if (proxy == null) return
    notebooks.delete(ref)
    proxy.then(async p => { await p.close() }).catch((err: Error) => { components.log.debug({ ref, err: err.message }, 'could not close a notebook proxy') })
  }
  /** A forward (and a notebook) lives as long as its workspace runs. */
  const sweep = async (): Promise<void> => {
    for (const forward of ports.list('workspace')) {
      const job = await components.jobs.show(forward.ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) ports.closeRef(forward.ref)
    }
    for (const ref of [...notebooks.keys()]) {
      const job = await components.jobs.show(ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) closeNotebook(ref)
    }
  }
  /** starts one at a time: a name is checked free and taken in one turn */
  const naming = takeTurns()
  const sweeper = setInterval(() => { sweep().catch((err: Error) => { components.log.debug({ err: err.message }, 'could not check forwarded ports') }) }, FORWARD_SWEEP_MS)
  sweeper.unref()

  const target = (job: JobView): { ref: string, jobId: string, provider: string } => ({ ref: job.ref, jobId: job.jobId, provider: job.provider as string })
  /** what reaches a workspace: its name (a run from before names: its job ref) */
  const handle = (job: JobView): string => job.message !== '' && parseWorkspaceRef(job.message) != null ? job.message : job.ref

  const running = async (ref: string): Promise<JobView> => {
    const job = await components.jobs.show(ref)
    if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace`)
    const name = handle(job)
    if (job.state === 'lost') throw new WorkspaceStateError(`workspace ${name} is lost: its provider vanished${job.homeCid != null ? ` (its home was last saved as ${job.homeCid})` : ''}; restart it elsewhere with floe workspace restart ${name} (its last run: ${job.ref})`)
    if (isFinal(job.state)) throw new WorkspaceStateError(`workspace ${name} is ${job.state}; restart it with floe workspace restart ${name} (its last run: ${job.ref})`)
    if (job.state !== 'running' || job.provider == null) throw new WorkspaceStateError(`workspace ${name} is ${job.state}, not running yet; try again in a moment`)
    return job
  }

  /** A tunnel to a running workspace, open and ready (the provider's exec started). */
  const tunnel = async (ref: string, open: TunnelRequest, signal?: AbortSignal): Promise<{ channel: MessageChannel, job: JobView }> => {
    const job = await running(ref)
    const { channel } = await ports.open(target(job), open, signal)
    return { channel, job }
  }

  /** Why a Jupyter workspace's notebook does not answer: no Jupyter in its environment, or still starting. */
  const notebookMissing = async (job: JobView): Promise<NotebookUnavailableError | NotebookStartingError> => {
    const check = await ports.exitCode(target(job), { type: 'shell', command: ['sh', '-c', 'command -v jupyter-notebook || command -v jupyter-lab'], cols: 80, rows: 24 }).catch(() => null)
    return check !== null && check !== 0
      ? new NotebookUnavailableError(`workspace ${job.ref} has no notebook: its environment ${job.spec.environment} has no jupyter-notebook or jupyter-lab; restart it in one that has (floe workspace restart ${job.ref} --env NAME, after floe env build NAME --from python-3.11 --apt jupyter-notebook)`)
      : new NotebookStartingError(`the notebook of workspace ${job.ref} does not answer on port ${NOTEBOOK_PORT} yet; it may still be starting (try again in a few seconds), or see its log: floe logs ${job.ref}`)
  }

  return {
    tunnel,

    /**
     * The workspace's notebook, served by this daemon on FORWARD_HOST at a port of its own
     * (see notebook-proxy.ts); made on the first call, kept while the workspace runs.
     */
    async notebook (ref: string): Promise<Notebook> {
      const job = await running(ref)
      const notebook = notebookOf(job.spec.command)
      if (notebook == null) throw new NotebookUnavailableError(`workspace ${job.ref} was started without a notebook (--no-jupyter, or by an older floe); a restart keeps that: start a new one with floe workspace start --jupyter --env ${job.spec.environment}`)
      if (!await ports.probe(target(job), NOTEBOOK_PORT)) throw await notebookMissing(job)
      let proxy = notebooks.get(job.ref)
      if (proxy == null) {
        socketDir ??= mkdtemp(join(tmpdir(), 'floe-notebooks-'))
        const dir = await socketDir
        proxy = startNotebookProxy({
          host: FORWARD_HOST,
          socketDir: dir,
          relay: socket => { ports.relayConnection(socket, job.ref, async () => target(await running(job.ref)), NOTEBOOK_PORT) },
          log: components.log,
          ...(components.notebookHeaderLog != null ? { headerLog: components.notebookHeaderLog } : {})
        })
        notebooks.set(job.ref, proxy)
        proxy.catch(() => { notebooks.delete(job.ref) })
      }
      const { host, port } = await proxy
      components.log.info({ ref: job.ref, host, port }, 'serving a workspace\'s notebook')
      return { ref: job.ref, host, port, url: `http://${host}:${port}/?token=${notebook.token}` }
    },

    /**
     * A new workspace named `request.name` (none: the first free `wsN`): refused when the
     * project has one of that name already (its runs are restarts, not new workspaces).
     */
    async startWorkspace (request: WorkspaceStart): Promise<JobView> {
      return await naming(async () => {
        let name = request.name.trim()
        if (name === '') {
          for (let i = 1; ; i++) if ((await components.jobs.workspaceRuns(request.project, `ws${i}`)).length === 0) { name = `ws${i}`; break }
        }
        const problem = workspaceNameProblem(name)
        if (problem != null) throw new WorkspaceNameError(problem)
        const existing = (await components.jobs.workspaceRuns(request.project, name)).at(-1)
        if (existing != null) {
          throw new WorkspaceExistsError(`workspace ${workspaceRef(existing.project, name)} exists already (${existing.state}, latest run ${existing.ref}); continue it with floe workspace restart ${name}, or choose another name`)
        }
        if (request.git != null && request.path != null) throw new WorkspaceGitError('give the code as a folder (path) or a git repository (--git), not both')
        const clone = request.git != null ? await gitClone(request.git.url, request.git.ref) : undefined
        if (clone != null) components.log.info({ url: request.git?.url, ref: request.git?.ref, commit: clone.commit }, 'cloned a workspace\'s code')
        const path = clone?.dir ?? request.path
        const run: RunRequest = {
          ...(path != null ? { path } : {}),
          command: workspaceCommand(request.jupyter ?? 'auto', randomBytes(32).toString('hex')),
          environment: request.environment,
          requirements: request.requirements,
          data: request.data,
          timeoutSeconds: request.timeoutSeconds,
          ...(request.maxPricePerHour != null ? { maxPricePerHour: request.maxPricePerHour } : {}),
          ...(request.provider != null ? { provider: request.provider } : {}),
          retries: 0,
          message: name,
          deterministic: false,
          ...(request.project != null ? { project: request.project } : {}),
          workspace: { home: null, idleTimeoutSeconds: request.idleTimeoutSeconds, snapshotSeconds: request.snapshotSeconds }
        }
        try {
          return await components.jobs.run(run)
        } finally {
          await clone?.remove()
        }
      })
    },

    /**
     * The workspace's next run, from its spec, its home and /code restored (as saved when it
     * stopped; for a lost one, as last saved while it ran), on the provider the shape now
     * picks; the same workspace (name), a new run in its history. A running one is stopped
     * (and saved) first. Only the latest run continues a workspace.
     */
    async restart (ref: string, changes: { requirements?: Partial<RequirementsInput>, environment?: string, provider?: string, maxPricePerHour?: number } = {}): Promise<JobView> {
      let job = await components.jobs.show(ref)
      if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace`)
      const latest = job.message === '' ? undefined : (await components.jobs.workspaceRuns(job.projectId, job.message)).at(-1)
      if (latest != null && latest.jobId !== job.jobId) {
        throw new WorkspaceStateError(`${job.ref} is an earlier run of workspace ${job.message} (its latest is ${latest.ref}); restart the workspace: floe workspace restart ${job.message}`)
      }
      if (!isFinal(job.state)) job = await components.jobs.stopJob(job.ref)
      ports.closeRef(job.ref)
      closeNotebook(job.ref)
      const saved = job.outputCid ?? job.homeCid ?? null
      if (saved == null) return await components.jobs.rerun({ ref: job.ref, ...changes, reuse: false, workspaceHome: job.spec.workspace?.home ?? null })
      const { home, code } = await components.openSaved(CID.parse(saved))
      return await components.jobs.rerun({ ref: job.ref, ...changes, reuse: false, workspaceHome: home.toString(), ...(code != null ? { workspaceCode: code.toString() } : {}) })
    },

    /** Each run of the workspace `ref` names (its name, or any of its runs), oldest first. */
    async history (ref: string): Promise<{ workspace: string, name: string, runs: WorkspaceRun[] }> {
      const job = await components.jobs.show(ref)
      if (job.spec.workspace == null) throw new WorkspaceStateError(`${job.ref} is a job, not a workspace`)
      const runs = job.message === '' ? [job] : await components.jobs.workspaceRuns(job.projectId, job.message)
      return {
        workspace: job.message === '' ? job.ref : workspaceRef(job.project, job.message),
        name: job.message,
        runs: runs.map(run => ({
          job: run.ref,
          jobId: run.jobId,
          provider: run.provider,
          state: run.state,
          startedAt: run.states.find(s => s.state === 'running')?.at ?? run.createdAt,
          endedAt: isFinal(run.state) ? run.states.at(-1)?.at ?? null : null,
          reason: run.reason,
          home: run.outputCid ?? run.homeCid ?? null,
          from: run.spec.workspace?.home ?? null
        }))
      }
    },

    async list (): Promise<{ workspaces: JobView[], ports: Forward[] }> {
      await sweep()
      // one row per workspace: its latest run (an unnamed one from before names: each run its own)
      const latest = new Map<string, JobView>()
      for (const job of await components.jobs.list()) {
        if (job.spec.workspace == null) continue
        const key = job.message === '' ? job.jobId : `${job.projectId}/${job.message}`
        const seen = latest.get(key)
        if (seen == null || seen.createdAt.localeCompare(job.createdAt) < 0 || (seen.createdAt === job.createdAt && seen.number < job.number)) latest.set(key, job)
      }
      return { workspaces: [...latest.values()], ports: ports.list('workspace') }
    },

    /** Listens on FORWARD_HOST:`local` (0: any free port) and relays each connection to `remote` inside the workspace. */
    async forward (ref: string, remote: number, local = 0): Promise<Forward> {
      const job = await running(ref)
      if (!await ports.probe(target(job), remote)) throw new WorkspaceStateError(`nothing listens on port ${remote} inside workspace ${handle(job)}; start the server there first (e.g. in floe shell ${handle(job)})`)
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
      await Promise.all([...notebooks.values()].map(async p => { await (await p).close() }))
      notebooks.clear()
      if (socketDir != null) await rm(await socketDir, { recursive: true, force: true })
    }
  }
}

export type WorkspaceService = ReturnType<typeof workspaceService>
