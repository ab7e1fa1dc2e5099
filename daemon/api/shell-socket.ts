import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { SHELL_PATH, ShellControl } from '../../protocol/api/workspace-routes.js'
import { encodeTunnelMessage, TUNNEL_CHUNK_BYTES } from '../../protocol/workspaces/tunnel.js'
import type { Logger } from '../log.js'
import { readTunnel, tunnelCredit } from '../transfer/tunnel-credit.js'
import type { WorkspaceService } from '../workspaces/workspace-service.js'
import { isLoopbackHost, ownOrigins, tokenMatches } from './guard.js'
import { SESSION_COOKIE, type UiSessions } from './ui-session.js'

/** Bytes the browser or CLI has not taken yet before the terminal's output waits. */
const MAX_BUFFERED_BYTES = 1024 * 1024

export interface ShellSocketComponents {
  token: string
  sessions?: UiSessions
  port: () => number
  tunnel: WorkspaceService['tunnel']
  log: Logger
}

function cookie (header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

/**
 * `floe shell` and the web UI's terminal: a WebSocket at SHELL_PATH, checked as the API is
 * (loopback Host, the daemon's own Origin, the bearer token or a web UI session), that joins
 * a terminal tunnel to the workspace's provider. Binary frames carry the terminal's bytes
 * both ways; text frames carry JSON control (resize, eof; ready, exit, error).
 */
export function shellSockets (components: ShellSocketComponents) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: TUNNEL_CHUNK_BYTES * 4 })
  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  }

  const serve = async (ws: WebSocket, params: URLSearchParams): Promise<void> => {
    const control = (message: ShellControl): void => { ws.send(JSON.stringify(message)) }
    const command = params.get('command')
    const size = (name: string, fallback: number): number => Math.min(10_000, Math.max(1, Number(params.get(name) ?? fallback) || fallback))
    let opened
    try {
      opened = await components.tunnel(params.get('ref') ?? '', { type: 'shell', command: command == null ? null : JSON.parse(command) as string[], cols: size('cols', 80), rows: size('rows', 24) })
    } catch (err: any) {
      control({ type: 'error', message: err?.message ?? String(err) })
      ws.close(1011)
      return
    }
    const { channel } = opened
    const credit = tunnelCredit(async message => { await channel.send(encodeTunnelMessage(message)) })
    const closed = new AbortController()
    control({ type: 'ready' })
    // keystrokes (and pastes) go in order, each piece within the tunnel's window
    let typing: Promise<void> = Promise.resolve()
    ws.on('message', (data: RawData, binary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
      if (binary) {
        typing = typing.then(async () => { await credit.sendData(bytes, closed.signal) })
        typing.catch(() => { ws.close(1011) })
        return
      }
      const parsed = ShellControl.safeParse(JSON.parse(bytes.toString('utf8')))
      if (!parsed.success) return
      if (parsed.data.type === 'resize') void channel.send(encodeTunnelMessage({ type: 'resize', cols: parsed.data.cols, rows: parsed.data.rows })).catch(() => {})
      else if (parsed.data.type === 'eof') void channel.send(encodeTunnelMessage({ type: 'eof' })).catch(() => {})
    })
    ws.on('close', () => {
      closed.abort(new Error('the terminal was closed'))
      channel.abort(new Error('the terminal was closed'))
    })
    try {
      const exit = await readTunnel(channel, credit, async bytes => {
        ws.send(bytes, { binary: true })
        while (ws.bufferedAmount > MAX_BUFFERED_BYTES && ws.readyState === ws.OPEN) await new Promise(resolve => setTimeout(resolve, 10))
      })
      if (exit != null) control({ type: 'exit', code: exit.code })
      ws.close(1000)
    } catch (err: any) {
      if (ws.readyState === ws.OPEN) {
        control({ type: 'error', message: `the terminal's connection to the provider broke: ${err?.message ?? err}` })
        ws.close(1011)
      }
    }
  }

  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== SHELL_PATH) return refuse(socket, '404 Not Found')
    if (!isLoopbackHost(req.headers.host)) return refuse(socket, '403 Forbidden')
    const origin = req.headers.origin
    if (origin != null && !ownOrigins(components.port()).has(origin.toLowerCase())) return refuse(socket, '403 Forbidden')
    const authorization = req.headers.authorization
    const bearer = authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length).trim() : undefined
    const allowed = bearer != null ? tokenMatches(bearer, components.token) : components.sessions?.valid(cookie(req.headers.cookie, SESSION_COOKIE)) === true
    if (!allowed) return refuse(socket, '401 Unauthorized')
    wss.handleUpgrade(req, socket, head, ws => {
      serve(ws, url.searchParams).catch((err: Error) => { components.log.debug({ err: err.message }, 'shell socket failed') })
    })
  }
}
