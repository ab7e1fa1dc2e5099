import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { SESSION_COOKIE, type UiSessions } from './ui-session.js'
import { ForbiddenHostError, ForbiddenOriginError, UnauthorizedError } from './errors.js'

const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** `127.0.0.1:7460` → `127.0.0.1`; `[::1]:7460` → `[::1]`. */
function hostnameOf (hostHeader: string): string {
  const lower = hostHeader.trim().toLowerCase()
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1)
  const colon = lower.lastIndexOf(':')
  return colon === -1 ? lower : lower.slice(0, colon)
}

export function isLoopbackHost (hostHeader: string | undefined): boolean {
  return hostHeader != null && LOOPBACK_HOSTNAMES.has(hostnameOf(hostHeader))
}

/** The origins of pages the daemon itself serves: only they may call the API from a browser. */
export function ownOrigins (port: number): Set<string> {
  return new Set([...LOOPBACK_HOSTNAMES].map(host => `http://${host}:${port}`))
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export function tokenMatches (presented: string | undefined, token: string): boolean {
  if (presented == null) return false
  return timingSafeEqual(digest(presented), digest(token))
}

/**
 * Checked on every request before routing, in this order: a Host that is not loopback
 * (DNS rebinding) → 403; an Origin that is not the daemon's own (a cross-site page) → 403;
 * then, for the API (`/api/…`), no or a wrong bearer token and no live web UI session
 * cookie → 401. The web UI's files carry no data and are served to anyone on loopback.
 */
export function requestGuard (options: { token: string, port: () => number, sessions?: UiSessions }): MiddlewareHandler {
  return async (c, next) => {
    // In-process requests (tests, app.request) carry the host only in their URL.
    const host = c.req.header('host') ?? new URL(c.req.url).host
    if (!isLoopbackHost(host)) {
      throw new ForbiddenHostError(`Host "${host ?? ''}" is not a loopback address; the API answers only requests addressed to 127.0.0.1, localhost or [::1]`)
    }
    const origin = c.req.header('origin')
    if (origin != null && !ownOrigins(options.port()).has(origin.toLowerCase())) {
      throw new ForbiddenOriginError(`requests from the origin "${origin}" are not allowed`)
    }
    if (!c.req.path.startsWith('/api/')) return await next()
    const authorization = c.req.header('authorization')
    const presented = authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length).trim() : undefined
    if (presented == null && options.sessions?.valid(getCookie(c, SESSION_COOKIE)) === true) return await next()
    if (!tokenMatches(presented, options.token)) {
      c.header('WWW-Authenticate', 'Bearer realm="floe"')
      throw new UnauthorizedError(presented == null
        ? 'missing bearer token: send "Authorization: Bearer <token>" with the token from the daemon\'s home (api-token), or sign in to the web UI with the link floe ui prints'
        : 'wrong bearer token: use the token in the daemon\'s home (api-token)')
    }
    await next()
  }
}
