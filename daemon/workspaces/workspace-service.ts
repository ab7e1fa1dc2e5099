import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { NOTEBOOK_PORT, notebookOf, workspaceCommand, type NotebookMode } from '../../protocol/workspaces/notebook.js'
import { decodeTunnelMessage, encodeTunnelMessage, TUNNEL_OPEN_TIMEOUT_MS, type TunnelMessage, type TunnelOpen, type TunnelRequest } from '../../protocol/workspaces/tunnel.js'
import type { Requirements, RequirementsInput } from '../../protocol/market/requirements.js'
import type { JobService, RunRequest } from '../jobs/job-service.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { readTunnel, tunnelCredit } from '../transfer/tunnel-credit.js'
import { ForwardHostError, NotebookStartingError, NotebookUnavailableError, PortInUseError, WorkspaceStateError } from './errors.js'
import { startNotebookProxy, type NotebookProxy } from './notebook-proxy.js'

export { KEEPALIVE } from '../../protocol/workspaces/notebook.js'

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

/** A workspace's notebook as the browser opens it: `url` carries the notebook's own token. */
export interface Notebook { ref: string, url: string, host: string, port: number }

export interface Forward { ref: string, host: string, remote: number, local: number }

export interface WorkspaceServiceComponents {
  jobs: Pick<JobService, 'run' | 'rerun' | 'show' | 'list' | 'stopJob'>
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
  const forwards = new Map<string, { forward: Forward, server: Server, sockets: Set<Socket> }>()

  const close = (key: string): void => {
    const entry = forwards.get(key)
    if (entry == null) return
    for (const socket of entry.sockets) socket.destroy()
    entry.server.close()
    forwards.delete(key)
  }
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
    for (const [key, { forward }] of [...forwards]) {
      const job = await components.jobs.show(forward.ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) close(key)
    }
    for (const ref of [...notebooks.keys()]) {
      const job = await components.jobs.show(ref).catch(() => undefined)
      if (job == null || isFinal(job.state)) closeNotebook(ref)
    }
  }
  const sweeper = setInterval(() => { sweep().catch((err: Error) => { components.log.debug({ err: err.message }, 'could not check forwarded ports') }) }, FORWARD_SWEEP_MS)
  sweeper.unref()

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

  /** One local connection relayed to `port` in the workspace; a failure resets that connection only. */
  const relayConnection = (socket: Socket, ref: string, port: number): void => {
    // a reset while the tunnel opens must end this connection only
    socket.on('error', (err: Error) => { components.log.debug({ ref, port, err: err.message }, 'forwarded connection failed') })
    relay(socket, ref, port).catch((err: Error) => {
      components.log.debug({ ref, port, err: err.message }, 'forwarded connection failed')
      // a reset, not an end: a cut transfer must not look complete (the notebook proxy's
      // Unix socket has no reset: destroyed, its HTTP client sees the cut all the same)
      if (socket.remoteAddress != null) socket.resetAndDestroy()
      else socket.destroy()
    })
  }

  /** Why a Jupyter workspace's notebook does not answer: no Jupyter in its environment, or still starting. */
  const notebookMissing = async (job: JobView): Promise<NotebookUnavailableError | NotebookStartingError> => {
    const check = await tunnel(job.ref, { type: 'shell', command: ['sh', '-c', 'command -v jupyter-notebook || command -v jupyter-lab'], cols: 80, rows: 24 })
      .then(async ({ channel }) => {
        try {
          while (true) {
            const bytes = await channel.read({ signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS) })
            if (bytes == null) return null
            const message = decodeTunnelMessage(bytes)
            if (message.type === 'exit') return message.code
          }
        } finally {
          await channel.close().catch(() => {})
        }
      })
      .catch(() => null)
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
      if (!await probe(job.ref, NOTEBOOK_PORT)) throw await notebookMissing(job)
      let proxy = notebooks.get(job.ref)
      if (proxy == null) {
        socketDir ??= mkdtemp(join(tmpdir(), 'floe-notebooks-'))
        const dir = await socketDir
        proxy = startNotebookProxy({
          host: FORWARD_HOST,
          socketDir: dir,
          relay: socket => { relayConnection(socket, job.ref, NOTEBOOK_PORT) },
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

    async startWorkspace (request: WorkspaceStart): Promise<JobView> {
      const run: RunRequest = {
        ...(request.path != null ? { path: request.path } : {}),
        command: workspaceCommand(request.jupyter ?? 'auto', randomBytes(32).toString('hex')),
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
      for (const [key, entry] of [...forwards]) if (entry.forward.ref === job.ref) close(key)
      closeNotebook(job.ref)
      return await components.jobs.rerun({ ref: job.ref, ...changes, reuse: false, workspaceHome: home })
    },

    async list (): Promise<{ workspaces: JobView[], ports: Forward[] }> {
      await sweep()
      return { workspaces: (await components.jobs.list()).filter(job => job.spec.workspace != null), ports: [...forwards.values()].map(f => f.forward) }
    },

    /** Listens on FORWARD_HOST:`local` (0: any free port) and relays each connection to `remote` inside the workspace. */
    async forward (ref: string, remote: number, local = 0): Promise<Forward> {
      const job = await running(ref)
      if (!await probe(job.ref, remote)) throw new WorkspaceStateError(`nothing listens on port ${remote} inside workspace ${job.ref}; start the server there first (e.g. in floe shell ${job.ref})`)
      const sockets = new Set<Socket>()
      // half-open: a client that ends its side (sends, then reads) still gets the answer
      const server = createServer({ allowHalfOpen: true }, socket => {
        sockets.add(socket)
        socket.on('close', () => { sockets.delete(socket) })
        relayConnection(socket, job.ref, remote)
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
      await Promise.all([...notebooks.values()].map(async p => { await (await p).close() }))
      notebooks.clear()
      if (socketDir != null) await rm(await socketDir, { recursive: true, force: true })
    }
  }
}

export type WorkspaceService = ReturnType<typeof workspaceService>
