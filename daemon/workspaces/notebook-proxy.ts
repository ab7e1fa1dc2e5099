import { randomBytes } from 'node:crypto'
import { appendFile, rm } from 'node:fs/promises'
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { SESSION_COOKIE } from '../api/ui-session.js'
import type { Logger } from '../log.js'
import { ForwardHostError } from './errors.js'

/**
 * The notebook of a Jupyter workspace, served to the browser by this daemon: an HTTP and
 * WebSocket proxy on FORWARD_HOST (127.0.0.2, another site than the web UI's 127.0.0.1: see
 * workspace-service.ts), on a port of its own, whose upstream is the workspace's port tunnel
 * (the same relay as `floe workspace port`, listening on a Unix socket only this daemon
 * reaches, so its connections are kept alive and reused rather than one tunnel per request).
 *
 * What the notebook (code a provider serves: hostile) receives is filtered here: never an
 * Authorization header, never a cookie of floe's (floe_session or any floe* name). Its pages
 * run on the proxy's origin, which the API refuses (api/guard.ts: not a loopback Host of the
 * daemon's, not an own Origin), so they cannot call the API as the user.
 */
export interface NotebookProxy {
  host: string
  port: number
  close: () => Promise<void>
}

export interface NotebookProxyOptions {
  host: string
  /** a folder for the upstream's Unix socket (this daemon's only) */
  socketDir: string
  /** relays one connection to the notebook's port inside the workspace (the port tunnel) */
  relay: (socket: Socket) => void
  log: Logger
  /** tests: each request's headers as forwarded, one JSON line each (FLOE_TEST_NOTEBOOK_HEADERS) */
  headerLog?: string
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and credentials: never forwarded as they came. */
const DROPPED = new Set(['authorization', 'proxy-authorization', 'proxy-connection', 'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/** Whether a cookie name is floe's: the web UI's session, or any name floe may use later. */
export const isFloeCookie = (name: string): boolean => name.trim().toLowerCase() === SESSION_COOKIE || name.trim().toLowerCase().startsWith('floe')

/**
 * The headers a request to the notebook carries: the browser's, less credentials of floe's
 * (any Authorization, floe's cookies) and hop-by-hop headers; `upgrade`: a WebSocket's
 * handshake keeps `Connection: Upgrade` and `Upgrade`. Host and Origin are kept: Jupyter
 * checks they agree.
 */
export function notebookRequestHeaders (headers: IncomingHttpHeaders, upgrade = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value == null || DROPPED.has(name)) continue
    if (name === 'cookie') {
      const kept = String(value).split(';').map(pair => pair.trim()).filter(pair => pair !== '' && !isFloeCookie(pair.split('=')[0] ?? ''))
      if (kept.length > 0) out.cookie = kept.join('; ')
      continue
    }
    out[name] = value
  }
  if (upgrade) {
    out.connection = 'Upgrade'
    out.upgrade = headers.upgrade ?? 'websocket'
  }
  return out
}

/** Response headers the proxy sets itself (framing, keep-alive) rather than pass on. */
const RESPONSE_DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'trailer', 'upgrade'])

export async function startNotebookProxy (options: NotebookProxyOptions): Promise<NotebookProxy> {
  const socketPath = join(options.socketDir, `notebook-${randomBytes(6).toString('hex')}.sock`)
  const upstreamSockets = new Set<Socket>()
  const upstream: NetServer = createNetServer({ allowHalfOpen: true }, socket => {
    upstreamSockets.add(socket)
    socket.on('close', () => { upstreamSockets.delete(socket) })
    options.relay(socket)
  })
  await new Promise<void>((resolve, reject) => {
    upstream.once('error', reject)
    upstream.listen(socketPath, () => { upstream.off('error', reject); resolve() })
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const record = async (method: string | undefined, url: string | undefined, headers: OutgoingHttpHeaders): Promise<void> => {
    if (options.headerLog == null) return
    await appendFile(options.headerLog, JSON.stringify({ method, url, headers }) + '\n')
  }
  const fail = (res: ServerResponse, err: Error): void => {
    options.log.debug({ err: err.message }, 'a notebook request failed')
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`floe: the notebook did not answer (${err.message}); is the workspace still running? floe workspace ls\n`)
    } else {
      res.destroy(err)
    }
  }

  const server: HttpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = notebookRequestHeaders(req.headers)
    record(req.method, req.url, headers).catch((err: Error) => { options.log.warn({ err: err.message }, 'could not record notebook headers') })
    const out = request({ socketPath, agent, method: req.method, path: req.url, headers }, upstreamRes => {
      const back: OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(upstreamRes.headers)) if (value != null && !RESPONSE_DROPPED.has(name)) back[name] = value
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, back)
      upstreamRes.pipe(res)
      upstreamRes.on('error', err => { res.destroy(err) })
    })
    out.on('error', err => { fail(res, err) })
    req.pipe(out)
    req.on('error', err => { out.destroy(err) })
  })

  // WebSockets (kernels): the handshake goes through with the same filter, then bytes both ways
  const upgraded = new Set<Duplex>()
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    upgraded.add(client)
    client.on('close', () => { upgraded.delete(client) })
    client.on('error', (err: Error) => { options.log.debug({ err: err.message }, 'a notebook WebSocket failed') })
    const headers = notebookRequestHeaders(req.headers, true)
    record(req.method, req.url, headers).catch((err: Error) => { options.log.warn({ err: err.message }, 'could not record notebook headers') })
    const out = request({ socketPath, method: req.method, path: req.url, headers })
    out.on('upgrade', (upstreamRes: IncomingMessage, upstreamSocket: Socket, upstreamHead: Buffer) => {
      const lines = [`HTTP/1.1 ${upstreamRes.statusCode ?? 101} ${upstreamRes.statusMessage ?? 'Switching Protocols'}`]
      for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) lines.push(`${upstreamRes.rawHeaders[i] ?? ''}: ${upstreamRes.rawHeaders[i + 1] ?? ''}`)
      client.write(lines.join('\r\n') + '\r\n\r\n')
      if (upstreamHead.length > 0) client.write(upstreamHead)
      if (head.length > 0) upstreamSocket.write(head)
      upstreamSocket.on('error', () => { client.destroy() })
      client.on('error', () => { upstreamSocket.destroy() })
      upstreamSocket.pipe(client)
      client.pipe(upstreamSocket)
    })
    out.on('response', (upstreamRes: IncomingMessage) => {
      // refused (e.g. a wrong token): the answer as it came, then the connection ends
      const lines = [`HTTP/1.1 ${upstreamRes.statusCode ?? 502} ${upstreamRes.statusMessage ?? ''}`]
      for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) {
        const name = upstreamRes.rawHeaders[i] ?? ''
        if (!RESPONSE_DROPPED.has(name.toLowerCase())) lines.push(`${name}: ${upstreamRes.rawHeaders[i + 1] ?? ''}`)
      }
      lines.push('Connection: close')
      client.write(lines.join('\r\n') + '\r\n\r\n')
      upstreamRes.pipe(client)
    })
    out.on('error', (err: Error) => {
      options.log.debug({ err: err.message }, 'a notebook WebSocket could not reach the notebook')
      client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    })
    out.end()
  })
  server.on('clientError', (_err: Error, socket: Duplex) => { socket.destroy() })

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (err: any) => {
      reject(err?.code === 'EADDRNOTAVAIL'
        ? new ForwardHostError(`notebooks are served on ${options.host}, which this machine does not have (on macOS: sudo ifconfig lo0 alias ${options.host})`)
        : err)
    })
    server.listen(0, options.host, () => { resolve((server.address() as { port: number }).port) })
  })
  server.on('error', (err: Error) => { options.log.warn({ err: err.message }, 'the notebook proxy could not accept a connection') })

  return {
    host: options.host,
    port,
    async close () {
      agent.destroy()
      server.closeAllConnections()
      for (const socket of upgraded) socket.destroy()
      for (const socket of upstreamSockets) socket.destroy()
      await Promise.all([
        new Promise<void>(resolve => { server.close(() => { resolve() }) }),
        new Promise<void>(resolve => { upstream.close(() => { resolve() }) })
      ])
      await rm(socketPath, { force: true })
    }
  }
}
