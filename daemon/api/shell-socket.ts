import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import WebSocket, { WebSocketServer, type RawData } from 'ws'
import { z } from 'zod'
import { SHELL_MAX_FRAME_BYTES, SHELL_PATH, ShellControl } from '../../protocol/api/workspace-routes.js'
import { encodeTunnelMessage } from '../../protocol/workspaces/tunnel.js'
import type { Logger } from '../log.js'
import { readTunnel, tunnelCredit } from '../transfer/tunnel-credit.js'
import type { WorkspaceService } from '../workspaces/workspace-service.js'
import { isLoopbackHost, ownOrigins, tokenMatches } from './guard.js'
import { SESSION_COOKIE, type UiSessions } from './ui-session.js'

/** Bytes the browser or CLI has not taken yet before the terminal's output waits. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/** How the terminal's socket ends, and the reason sent with each code (at most 123 bytes). */
const CLOSE = {
  done: 1000,
  /** the frame broke RFC 6455: reserved bits, an unknown opcode, a bad fragment */
  protocol: 1002,
  /** a text frame that is not UTF-8, not JSON, or not a control message */
  badData: 1007,
  policy: 1008,
  tooBig: 1009,
  failed: 1011
} as const

/**
 * `ws` closes a socket whose frame it cannot parse with the code alone, then emits 'error';
 * the user (and `floe shell`) should also read why, so the code gets its reason here.
 */
const RECEIVER_REASONS: Readonly<Record<number, string>> = {
  [CLOSE.protocol]: 'the frame broke the WebSocket protocol (reserved bits, opcode or fragments)',
  [CLOSE.badData]: 'a text frame was not valid UTF-8',
  [CLOSE.policy]: 'the frame broke the terminal socket\'s rules',
  [CLOSE.tooBig]: `a frame may carry at most ${SHELL_MAX_FRAME_BYTES} bytes; send terminal input in smaller pieces`
}

class ShellWebSocket extends WebSocket {
  override close (code?: number, reason?: string | Buffer): void {
    super.close(code, reason ?? (code == null ? undefined : RECEIVER_REASONS[code]))
  }
}

/** `?command=` is a JSON array of strings (the tunnel bounds it further). */
const Command = z.array(z.string()).min(1).max(256)

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

function parseCommand (text: string | null): string[] | null {
  if (text == null) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error('command must be a JSON array of strings')
  }
  const parsed = Command.safeParse(value)
  if (!parsed.success) throw new Error('command must be a JSON array of 1 to 256 strings')
  return parsed.data
}

/** A text frame, as a control message, or why it is not one. */
function parseControl (bytes: Buffer): ShellControl | string {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    return 'a text frame must be a JSON control message (resize, eof)'
  }
  const parsed = ShellControl.safeParse(value)
  return parsed.success ? parsed.data : 'unknown control message: a text frame must be resize or eof'
}

/**
 * `floe shell` and the web UI's terminal: a WebSocket at SHELL_PATH, checked as the API is
 * (loopback Host, the daemon's own Origin, the bearer token or a web UI session), that joins
 * a terminal tunnel to the workspace's provider. Binary frames carry the terminal's bytes
 * both ways; text frames carry JSON control (resize, eof; ready, exit, error).
 *
 * Every socket here has its 'error' handled where it arises: a frame the socket cannot take
 * (reserved bits, a bad opcode, above SHELL_MAX_FRAME_BYTES, text that is not a control
 * message) closes that one socket with a code and a reason; the daemon goes on.
 */
export function shellSockets (components: ShellSocketComponents) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: SHELL_MAX_FRAME_BYTES, WebSocket: ShellWebSocket })
  wss.on('error', (err: Error) => { components.log.warn({ err: err.message }, 'terminal socket server failed') })
  wss.on('wsClientError', (err: Error) => { components.log.debug({ err: err.message }, 'refused a terminal socket handshake') })
  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  }
  const shut = (ws: WebSocket, code: number, reason: string): void => {
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason.slice(0, 120))
  }

  const serve = async (ws: WebSocket, params: URLSearchParams): Promise<void> => {
    const control = (message: ShellControl): void => { ws.send(JSON.stringify(message)) }
    // frames that come before the tunnel is open are refused as they would be after
    const early = (data: RawData, binary: boolean): void => {
      if (!binary) {
        const parsed = parseControl(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer))
        if (typeof parsed === 'string') shut(ws, CLOSE.badData, parsed)
      }
    }
    ws.on('message', early)
    const size = (name: string, fallback: number): number => Math.min(10_000, Math.max(1, Math.floor(Number(params.get(name) ?? fallback)) || fallback))
    let opened
    try {
      opened = await components.tunnel(params.get('ref') ?? '', { type: 'shell', command: parseCommand(params.get('command')), cols: size('cols', 80), rows: size('rows', 24) })
    } catch (err: any) {
      if (ws.readyState === ws.OPEN) control({ type: 'error', message: err?.message ?? String(err) })
      shut(ws, CLOSE.failed, 'the terminal could not be opened')
      return
    }
    const { channel } = opened
    ws.off('message', early)
    if (ws.readyState !== ws.OPEN) {
      channel.abort(new Error('the terminal was closed before it opened'))
      return
    }
    const credit = tunnelCredit(async message => { await channel.send(encodeTunnelMessage(message)) })
    const closed = new AbortController()
    control({ type: 'ready' })
    const toTunnel = (what: string, sending: Promise<unknown>): void => {
      sending.catch((err: Error) => {
        components.log.debug({ err: err.message }, `could not send the terminal's ${what}`)
        shut(ws, CLOSE.failed, `the terminal's ${what} could not reach the provider`)
      })
    }
    // keystrokes (and pastes) go in order, each piece within the tunnel's window
    let typing: Promise<void> = Promise.resolve()
    ws.on('message', (data: RawData, binary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
      if (binary) {
        typing = typing.then(async () => { await credit.sendData(bytes, closed.signal) })
        toTunnel('input', typing)
        return
      }
      const parsed = parseControl(bytes)
      if (typeof parsed === 'string') return shut(ws, CLOSE.badData, parsed)
      if (parsed.type === 'resize') toTunnel('size', channel.send(encodeTunnelMessage({ type: 'resize', cols: parsed.cols, rows: parsed.rows })))
      else if (parsed.type === 'eof') toTunnel('end of input', channel.send(encodeTunnelMessage({ type: 'eof' })))
      else shut(ws, CLOSE.badData, `"${parsed.type}" is sent by the daemon, not to it`)
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
      if (exit != null && ws.readyState === ws.OPEN) control({ type: 'exit', code: exit.code })
      shut(ws, CLOSE.done, 'the terminal ended')
    } catch (err: any) {
      if (ws.readyState === ws.OPEN) {
        control({ type: 'error', message: `the terminal's connection to the provider broke: ${err?.message ?? err}` })
        shut(ws, CLOSE.failed, 'the connection to the provider broke')
      }
    }
  }

  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // the HTTP server hands the socket over without its own error listener: a reset while
    // we answer must end this socket only
    const onSocketError = (err: Error): void => { components.log.debug({ err: err.message }, 'terminal socket failed before it opened') }
    socket.on('error', onSocketError)
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
      socket.off('error', onSocketError)
      ws.on('error', (err: Error & { code?: string }) => {
        // ws has already closed the socket with a code (and RECEIVER_REASONS its reason)
        components.log.debug({ err: err.message, code: err.code }, 'terminal socket closed on a bad frame')
      })
      serve(ws, url.searchParams).catch((err: Error) => {
        components.log.warn({ err: err.message }, 'terminal socket failed')
        shut(ws, CLOSE.failed, 'the terminal failed')
      })
    })
  }
}
