import { randomBytes } from 'node:crypto'

/** How long a `floe ui` link works, and how long a browser session lasts without use. */
export const UI_TOKEN_TTL_MS = 5 * 60_000
export const UI_SESSION_IDLE_MS = 12 * 3600_000
export const SESSION_COOKIE = 'floe_session'

/**
 * The web UI's sign-in: `floe ui` asks (with the API token) for a one-time token, and the
 * link carrying it exchanges it once for a session, kept in an HttpOnly, SameSite=Strict
 * cookie. Sessions live in memory: a restarted daemon asks for `floe ui` again.
 */
export function uiSessions (now: () => number = Date.now) {
  const tokens = new Map<string, number>()
  const sessions = new Map<string, number>()
  const sweep = (): void => {
    const t = now()
    for (const [token, expires] of tokens) if (expires <= t) tokens.delete(token)
    for (const [session, expires] of sessions) if (expires <= t) sessions.delete(session)
  }
  return {
    /** a token good for one sign-in within UI_TOKEN_TTL_MS */
    issueToken (): string {
      sweep()
      const token = randomBytes(24).toString('base64url')
      tokens.set(token, now() + UI_TOKEN_TTL_MS)
      return token
    },
    /** the token, spent: a new session id, or null when it is unknown, used or expired */
    redeem (token: string): string | null {
      sweep()
      if (!tokens.delete(token)) return null
      const session = randomBytes(32).toString('base64url')
      sessions.set(session, now() + UI_SESSION_IDLE_MS)
      return session
    },
    /** whether the session is live (each use extends it) */
    valid (session: string | undefined): boolean {
      if (session == null) return false
      const expires = sessions.get(session)
      if (expires == null || expires <= now()) return false
      sessions.set(session, now() + UI_SESSION_IDLE_MS)
      return true
    },
    end (session: string | undefined): void {
      if (session != null) sessions.delete(session)
    }
  }
}

export type UiSessions = ReturnType<typeof uiSessions>
