import { createServer, type Server, type Socket } from 'node:net'
import { decodeTunnelMessage, encodeTunnelMessage, TUNNEL_OPEN_TIMEOUT_MS, type TunnelMessage, type TunnelOpen, type TunnelRequest } from '../../protocol/workspaces/tunnel.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { readTunnel, tunnelCredit } from '../transfer/tunnel-credit.js'
import { ForwardHostError, PortInUseError, WorkspaceStateError } from '../workspaces/errors.js'

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

/** A local port (on FORWARD_HOST) that reaches port `remote` in the job or workspace `ref`. */
export interface Forward { ref: string, host: string, remote: number, local: number }

/** Where a tunnel goes: a running job (or workspace) and its provider. */
export interface TunnelTarget { ref: string, jobId: string, provider: string }

export interface PortForwardsComponents {
  /** a tunnel conversation with a provider */
  openTunnel: (provider: string, signal: AbortSignal) => Promise<MessageChannel>
  log: Logger
}

/**
 * The client's side of `/floe/tunnel/1.0.0` for ports: opening a conversation, probing a
 * port, and local listeners whose every connection is relayed to a port inside a running
 * workspace or a job that serves it (`floe workspace port`, `floe run --serve`). Each
 * forward is kept by its owner's kind ('workspace', 'serve'), so each lists and ends its own.
 */
/**
 * Ends a relayed connection that failed: a reset, not an end, so a cut transfer does not look
 * complete. The notebook proxy's Unix socket has no reset (resetAndDestroy throws there): it
 * is destroyed, and its HTTP client sees the cut all the same.
 */
function cut (socket: Socket): void {
  if (socket.remoteAddress != null) socket.resetAndDestroy()
  else socket.destroy()
}

export function portForwards (components: PortForwardsComponents) {
  const forwards = new Map<string, { forward: Forward, kind: string, server: Server, sockets: Set<Socket> }>()

  /** A conversation open and answered: `ready` (the provider's exec started) or `detached`. */
  const open = async (target: TunnelTarget, request: TunnelRequest, signal?: AbortSignal): Promise<{ channel: MessageChannel, answer: Extract<TunnelMessage, { type: 'ready' | 'detached' }> }> => {
    const timeout = AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS)
    const channel = await components.openTunnel(target.provider, signal == null ? timeout : AbortSignal.any([signal, timeout]))
    try {
      await channel.send(encodeTunnelMessage({ ...request, job: target.jobId } as TunnelOpen))
      const first = await channel.read({ signal: timeout })
      if (first == null) throw new WorkspaceStateError(`the provider of ${target.ref} closed the tunnel`)
      const answer = decodeTunnelMessage(first)
      if (answer.type === 'error') throw new WorkspaceStateError(`${target.ref}: ${answer.message}`)
      if (answer.type !== 'ready' && answer.type !== 'detached') throw new WorkspaceStateError(`${target.ref}: the provider answered ${answer.type}`)
      return { channel, answer }
    } catch (err) {
      channel.abort(err as Error)
      throw err
    }
  }

  /** The exit status of a command the provider runs in the job (null: the tunnel closed without one); an error when the provider cannot run it. */
  const exitCode = async (target: TunnelTarget, request: TunnelRequest): Promise<number | null> => {
    const { channel } = await open(target, request)
    try {
      while (true) {
        const bytes = await channel.read({ signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS) })
        if (bytes == null) return null
        const message = decodeTunnelMessage(bytes)
        if (message.type === 'exit') return message.code
        if (message.type === 'error') throw new WorkspaceStateError(`${target.ref}: ${message.message}`)
      }
    } finally {
      await channel.close().catch(() => {})
    }
  }

  /** Whether anything listens on `port` inside the job; an error when the provider cannot tell. */
  const probe = async (target: TunnelTarget, port: number): Promise<boolean> => await exitCode(target, { type: 'probe', port }) === 0

  /** Pumps a local TCP connection through a tunnel to the port inside the job. */
  const relay = async (socket: Socket, target: TunnelTarget, port: number): Promise<void> => {
    const { channel } = await open(target, { type: 'port', port })
    const send = async (message: TunnelMessage): Promise<void> => { await channel.send(encodeTunnelMessage(message)) }
    const credit = tunnelCredit(send)
    const gone = new AbortController()
    // local → job: the connection paused while a window is in flight
    let outgoing: Promise<void> = Promise.resolve()
    socket.on('data', chunk => {
      socket.pause()
      outgoing = outgoing.then(async () => {
        await credit.sendData(chunk, gone.signal)
        socket.resume()
      })
      outgoing.catch(() => { cut(socket) })
    })
    socket.on('end', () => { outgoing = outgoing.then(async () => { await send({ type: 'eof' }) }).catch(() => {}) })
    socket.on('error', err => { gone.abort(err); channel.abort(new Error('the local connection failed')) })
    // job → local
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

  /** One local connection relayed to `remote` in the job `target()` names; a failure resets that connection only. */
  const relayConnection = (socket: Socket, ref: string, target: () => Promise<TunnelTarget>, remote: number): void => {
    // a reset while the tunnel opens must end this connection only
    socket.on('error', (err: Error) => { components.log.debug({ ref, port: remote, err: err.message }, 'forwarded connection failed') })
    target().then(async to => { await relay(socket, to, remote) }).catch((err: Error) => {
      components.log.debug({ ref, port: remote, err: err.message }, 'forwarded connection failed')
      cut(socket)
    })
  }

  const close = (key: string): void => {
    const entry = forwards.get(key)
    if (entry == null) return
    for (const socket of entry.sockets) socket.destroy()
    entry.server.close()
    forwards.delete(key)
  }

  return {
    open,
    exitCode,
    probe,
    relayConnection,

    /**
     * Listens on FORWARD_HOST:`local` (0: any free port) and relays each connection to
     * `remote` inside the job `target()` names at that moment (it throws once the job does
     * not run: that connection is reset).
     */
    async forward (ref: string, kind: string, target: () => Promise<TunnelTarget>, remote: number, local = 0): Promise<Forward> {
      const sockets = new Set<Socket>()
      // half-open: a client that ends its side (sends, then reads) still gets the answer
      const server = createServer({ allowHalfOpen: true }, socket => {
        sockets.add(socket)
        socket.on('close', () => { sockets.delete(socket) })
        relayConnection(socket, ref, target, remote)
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
      server.on('error', (err: Error) => { components.log.warn({ ref, port: remote, err: err.message }, 'a forwarded port could not accept a connection') })
      const forward = { ref, host: FORWARD_HOST, remote, local: port }
      forwards.set(`${ref}:${remote}:${port}`, { forward, kind, server, sockets })
      components.log.info({ ...forward, kind }, 'forwarding a local port')
      return forward
    },

    /** the forwards of one kind */
    list (kind: string): Forward[] {
      return [...forwards.values()].filter(entry => entry.kind === kind).map(entry => entry.forward)
    },

    /** Closes every forward to `ref` (of `kind`, when given): its listener and its connections. */
    closeRef (ref: string, kind?: string): void {
      for (const [key, entry] of [...forwards]) if (entry.forward.ref === ref && (kind == null || entry.kind === kind)) close(key)
    },

    stop (): void {
      for (const key of [...forwards.keys()]) close(key)
    }
  }
}

export type PortForwards = ReturnType<typeof portForwards>
