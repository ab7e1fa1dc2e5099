import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { serve, type ServerType } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { httpStatusForError, InvalidRequestError, type ApiErrorBody } from '../../protocol/api/errors.js'
import { invalidRequestMessage } from '../../protocol/api/invalid-input.js'
import { routes, type RouteName, type Routes } from '../../protocol/api/routes.js'
import { NDJSON, type RouteDef, type RouteProgress } from '../../protocol/api/route.js'
import type { z } from 'zod'
import type { Logger } from '../log.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { serveWebui } from './webui-static.js'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { RequestAbortedError, RouteNotFoundError } from './errors.js'
import { requestGuard } from './guard.js'
import { SESSION_COOKIE, UI_SESSION_IDLE_MS, type UiSessions } from './ui-session.js'

/** The largest JSON body a route accepts; bulk content has streaming routes of its own. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024

export interface HandlerContext<P = never> {
  signal: AbortSignal
  /** for routes with `progress`: report how far along the operation is (sent at most every 100 ms) */
  progress: (event: P) => void
}

/** One handler per declared route: it gets the validated input and returns the route's output. */
export type ApiHandlers = {
  [K in RouteName]: (input: z.output<Routes[K]['input']>, ctx: HandlerContext<RouteProgress<Routes[K]>>) => Promise<z.input<Routes[K]['output']>>
}

const PROGRESS_INTERVAL_MS = 100

export interface ApiServerOptions {
  host: string
  port: number
  token: string
  handlers: ApiHandlers
  log: Logger
  /** web UI sign-in sessions (cookie), beside the bearer token */
  sessions?: UiSessions
  /** the built web UI (index.html and assets); served at / when present */
  webuiRoot?: string
  /** routes that are not JSON (downloads, upload bodies): registered after the guard */
  raw?: (app: Hono) => void
  /** WebSocket upgrades (terminals); they check their own requests as the guard does */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
}

export interface ApiServer {
  url: string
  port: number
  stop(): Promise<void>
}

function errorBody (err: unknown, path: string, log: Logger): { status: number, body: ApiErrorBody } {
  const name = err instanceof Error ? err.name : 'InternalError'
  const status = httpStatusForError(name)
  if (status >= 500) log.error({ err, path }, 'request failed')
  return {
    status,
    body: { error: { name: status === 500 ? 'InternalError' : name, message: err instanceof Error ? err.message : String(err) } }
  }
}

function errorResponse (c: Context, err: unknown, log: Logger): Response {
  const { status, body } = errorBody(err, c.req.path, log)
  return c.json(body, status as ContentfulStatusCode)
}

/**
 * Runs a long handler and answers NDJSON: throttled progress lines, then the result or the
 * error. A client that goes away aborts the handler through the request's signal.
 */
function progressResponse (route: RouteDef, path: string, signal: AbortSignal, log: Logger, run: (progress: (event: unknown) => void) => Promise<unknown>): Response {
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    async start (controller) {
      const line = (value: unknown): void => { controller.enqueue(encoder.encode(JSON.stringify(value) + '\n')) }
      let last = 0
      const progress = (event: unknown): void => {
        const now = Date.now()
        // a line of text (a build's output) is never dropped; byte counts are throttled
        const text = typeof (event as { message?: unknown } | null)?.message === 'string'
        if (signal.aborted || (route.everyEvent !== true && !text && now - last < PROGRESS_INTERVAL_MS)) return
        last = now
        line({ progress: event })
      }
      try {
        line({ result: route.output.parse(await run(progress)) })
      } catch (err) {
        line(errorBody(err, path, log).body)
      }
      controller.close()
    }
  })
  return new Response(body, { headers: { 'content-type': NDJSON } })
}

async function readInput (c: Context, route: RouteDef): Promise<unknown> {
  if (route.method !== 'POST') return c.req.query()
  let text: string
  try {
    text = await c.req.text()
  } catch (err: any) {
    // a body cut off by the client is its doing, not a fault of the daemon's
    if (c.req.raw.signal.aborted || err?.code === 'ECONNRESET' || err?.message === 'aborted') throw new RequestAbortedError('the request body was cut off before it arrived whole')
    throw err
  }
  if (text === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw new InvalidRequestError('the request body is not valid JSON')
  }
}

export function buildApiApp (options: Omit<ApiServerOptions, 'host' | 'port'> & { port: () => number }): Hono {
  const app = new Hono()
  app.use('*', requestGuard({ token: options.token, port: options.port, sessions: options.sessions }))
  const jsonLimit = bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => { throw new InvalidRequestError(`the request body is larger than ${MAX_JSON_BODY_BYTES} bytes`) }
  })
  for (const [name, route] of Object.entries(routes) as Array<[RouteName, RouteDef]>) {
    app.on(route.method, route.path, jsonLimit, async c => {
      const parsed = route.input.safeParse(await readInput(c, route))
      if (!parsed.success) {
        throw new InvalidRequestError(invalidRequestMessage(parsed.error))
      }
      const handler = options.handlers[name] as (input: unknown, ctx: HandlerContext<unknown>) => Promise<unknown>
      const signal = c.req.raw.signal
      if (route.progress != null) {
        return progressResponse(route, c.req.path, signal, options.log, async progress => await handler(parsed.data, { signal, progress }))
      }
      const result = await handler(parsed.data, { signal, progress: () => {} })
      return c.json(route.output.parse(result) as object)
    })
  }
  options.raw?.(app)
  const sessions = options.sessions
  if (sessions != null) {
    // the `floe ui` link: its token, spent once, becomes the session cookie
    app.get(RAW_PATHS.uiLogin, c => {
      const session = sessions.redeem(c.req.query('token') ?? '')
      if (session == null) return c.redirect('/?signin=expired', 303)
      setCookie(c, SESSION_COOKIE, session, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: UI_SESSION_IDLE_MS / 1000 })
      return c.redirect('/', 303)
    })
    app.get(RAW_PATHS.uiSession, c => c.json({ signedIn: sessions.valid(getCookie(c, SESSION_COOKIE)) }))
    app.post(RAW_PATHS.uiSignOut, c => {
      sessions.end(getCookie(c, SESSION_COOKIE))
      deleteCookie(c, SESSION_COOKIE, { path: '/' })
      return c.redirect('/', 303)
    })
  }
  const webui = options.webuiRoot
  if (webui != null && existsSync(join(webui, 'index.html'))) {
    // compressed, cached (daemon/api/webui-static.ts); the app's own paths (/projects/…, /jobs/…) all load index.html
    serveWebui(app, webui)
  }
  app.notFound(c => { throw new RouteNotFoundError(`no route ${c.req.method} ${c.req.path}`) })
  app.onError((err, c) => errorResponse(c, err, options.log))
  return app
}

/** Starts the HTTP API on a loopback address; resolves once it listens. */
export async function startApiServer (options: ApiServerOptions): Promise<ApiServer> {
  let port = options.port
  const app = buildApiApp({ ...options, port: () => port })
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port })
    s.once('error', reject)
    s.once('listening', () => {
      s.off('error', reject)
      resolve(s)
    })
  })
  port = (server.address() as AddressInfo).port
  // once listening, a server's 'error' is a failed accept (EMFILE under a flood of
  // connections): that connection is lost, the server still listens
  server.on('error', (err: Error) => { options.log.warn({ err: err.message }, 'the API could not accept a connection') })
  const onUpgrade = options.onUpgrade
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (onUpgrade != null) return onUpgrade(req, socket, head)
    socket.on('error', (err: Error) => { options.log.debug({ err: err.message }, 'a refused upgrade\'s connection failed') })
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    async stop () {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
    }
  }
}
