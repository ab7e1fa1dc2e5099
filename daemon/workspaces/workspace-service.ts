import { createServer, type Server, type Socket } from 'node:net'
import { CID } from 'multiformats/cid'
import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { decodeTunnelMessage, encodeTunnelMessage, TUNNEL_OPEN_TIMEOUT_MS, type TunnelMessage, type TunnelOpen, type TunnelRequest } from '../../protocol/workspaces/tunnel.js'
import type { Requirements, RequirementsInput } from '../../protocol/market/requirements.js'
import type { JobService, RunRequest } from '../jobs/job-service.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { readTunnel, tunnelCredit } from '../transfer/tunnel-credit.js'
import { parseWorkspaceRef, workspaceNameProblem, workspaceRef } from '../../protocol/workspaces/identity.js'
import { takeTurns } from '../turns.js'
import { gitClone } from './git-clone.js'
import { ForwardHostError, PortInUseError, WorkspaceExistsError, WorkspaceGitError, WorkspaceNameError, WorkspaceStateError } from './errors.js'

/** A workspace's command: it only keeps the container up (terminals and ports are exec'd); SIGTERM ends it at once. */
export const KEEPALIVE = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done']

/**
 * The loopback address forwarded ports listen on: never one the web UI is served on.
 * Browsers scope cookies by host, not by port, so on 127.0.0.1 a workspace's web server
 * (code we must treat as hostile) would be sent the web UI's session cookie, and would be
 * the same site as the UI (SameSite=Strict would not keep it out either). 127.0.0.2 is
 * another host and another site, and the API refuses it as a Host (see api/guard.ts), so no
 * page can ever hold a session cookie for it. Linux and Windows route all of 127.0.0.0/8 to
 * the loopback device; macOS needs `sudo ifconfig lo0 alias 127.0.0.2` once.
 */
export const FORWARD_HOST = '127.0.0.2'

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
}

export interface Forward { ref: string, host: string, remote: number, local: number }

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

export interface WorkspaceServiceComponents {
  jobs: Pick<JobService, 'run' | 'rerun' | 'show' | 'list' | 'stopJob' | 'workspaceRuns'>
  /** a saved workspace's home and /code (daemon/workspaces/saved-workspace.ts) */
  openSaved: (saved: CID) => Promise<{ home: CID, code: CID | null }>
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
  const forwards = new Map<string, { forward: Forward, server: Server, sockets: Set<Socket> }>()

  const close = (key: string): void => {
    const entry = forwards.get(key)
    if (entry == null) return
    for (const socket of entry.sockets) socket.destroy()
    entry.server.close()
    forwards.delete(key)
  }
  /** A forward lives as long as its workspace runs. */
  const sweep = async (): Promise<void> => {
    for (const [key, { forward }] of [...forwards]) {
      const job = await components.jobs.show(forward.ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) close(key)
    }
  }
  /** starts one at a time: a name is checked free and taken in one turn */
  const naming = takeTurns()
  const sweeper = setInterval(() => { sweep().catch((err: Error) => { components.log.debug({ err: err.message }, 'could not check forwarded ports') }) }, FORWARD_SWEEP_MS)
  sweeper.unref()

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
    const timeout = AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS)
    const channel = await components.openTunnel(job.provider as string, signal == null ? timeout : AbortSignal.any([signal, timeout]))
    try {
      await channel.send(encodeTunnelMessage({ ...open, job: job.jobId } as TunnelOpen))
      const first = await channel.read({ signal: timeout })
      if (first == null) throw new WorkspaceStateError(`the provider of ${job.ref} closed the tunnel`)
      const answer = decodeTunnelMessage(first)
      if (answer.type === 'error') throw new WorkspaceStateError(`${job.ref}: ${answer.message}`)
      if (answer.type !== 'ready') throw new WorkspaceStateError(`${job.ref}: the provider answered ${answer.type}`)
      return { channel, job }
    } catch (err) {
      channel.abort(err as Error)
      throw err
    }
  }

  /** Whether anything listens on `port` inside the workspace. */
  const probe = async (ref: string, port: number): Promise<boolean> => {
    const { channel } = await tunnel(ref, { type: 'probe', port })
    try {
      while (true) {
        const bytes = await channel.read({ signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS) })
        if (bytes == null) return false
        const message = decodeTunnelMessage(bytes)
        if (message.type === 'exit') return message.code === 0
      }
    } finally {
      await channel.close().catch(() => {})
    }
  }

  /** Pumps a local TCP connection through a tunnel to the port inside the workspace. */
  const relay = async (socket: Socket, ref: string, port: number): Promise<void> => {
    const { channel } = await tunnel(ref, { type: 'port', port })
    const send = async (message: TunnelMessage): Promise<void> => { await channel.send(encodeTunnelMessage(message)) }
    const credit = tunnelCredit(send)
    const gone = new AbortController()
    // local → workspace: the connection paused while a window is in flight
    let outgoing: Promise<void> = Promise.resolve()
    socket.on('data', chunk => {
      socket.pause()
      outgoing = outgoing.then(async () => {
        await credit.sendData(chunk, gone.signal)
        socket.resume()
      })
      outgoing.catch(() => { socket.resetAndDestroy() })
    })
    socket.on('end', () => { outgoing = outgoing.then(async () => { await send({ type: 'eof' }) }).catch(() => {}) })
    socket.on('error', err => { gone.abort(err); channel.abort(new Error('the local connection failed')) })
    // workspace → local
    try {
      await readTunnel(channel, credit, async bytes => {
        if (!socket.write(bytes)) await new Promise<void>(resolve => { socket.once('drain', () => { resolve() }) })
      })
    } catch (err) {
      gone.abort(err)
      credit.fail(err as Error)
      throw err
    }
    gone.abort(new Error('the tunnel ended'))
    socket.end()
    await channel.close().catch(() => {})
  }

  return {
    tunnel,

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
          command: KEEPALIVE,
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
      for (const [key, entry] of [...forwards]) if (entry.forward.ref === job.ref) close(key)
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
      return { workspaces: [...latest.values()], ports: [...forwards.values()].map(f => f.forward) }
    },

    /** Listens on FORWARD_HOST:`local` (0: any free port) and relays each connection to `remote` inside the workspace. */
    async forward (ref: string, remote: number, local = 0): Promise<Forward> {
      const job = await running(ref)
      if (!await probe(job.ref, remote)) throw new WorkspaceStateError(`nothing listens on port ${remote} inside workspace ${handle(job)}; start the server there first (e.g. in floe shell ${handle(job)})`)
      const sockets = new Set<Socket>()
      // half-open: a client that ends its side (sends, then reads) still gets the answer
      const server = createServer({ allowHalfOpen: true }, socket => {
        sockets.add(socket)
        socket.on('close', () => { sockets.delete(socket) })
        // a reset while the tunnel opens must end this connection only
        socket.on('error', (err: Error) => { components.log.debug({ ref: job.ref, port: remote, err: err.message }, 'forwarded connection failed') })
        relay(socket, job.ref, remote).catch((err: Error) => {
          components.log.debug({ ref: job.ref, port: remote, err: err.message }, 'forwarded connection failed')
          // a reset, not an end: a cut transfer must not look complete
          socket.resetAndDestroy()
        })
      })
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', (err: any) => {
          reject(err?.code === 'EADDRINUSE'
            ? new PortInUseError(`local port ${local} is in use; choose another with --local, or leave it out for any free port`)
            : err?.code === 'EADDRNOTAVAIL'
              ? new ForwardHostError(`forwarded ports listen on ${FORWARD_HOST}, which this machine does not have (on macOS: sudo ifconfig lo0 alias ${FORWARD_HOST})`)
              : err)
        })
        server.listen(local, FORWARD_HOST, () => { resolve((server.address() as { port: number }).port) })
      })
      // once listening, an 'error' is a failed accept: that connection is lost, the port stays
      server.on('error', (err: Error) => { components.log.warn({ ref: job.ref, port: remote, err: err.message }, 'a forwarded port could not accept a connection') })
      const forward = { ref: job.ref, host: FORWARD_HOST, remote, local: port }
      forwards.set(`${job.ref}:${remote}:${port}`, { forward, server, sockets })
      components.log.info(forward, 'forwarding a local port into a workspace')
      return forward
    },

    async stop (): Promise<void> {
      clearInterval(sweeper)
      for (const key of [...forwards.keys()]) close(key)
    }
  }
}

export type WorkspaceService = ReturnType<typeof workspaceService>
