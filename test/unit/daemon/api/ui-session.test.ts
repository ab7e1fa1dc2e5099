import { describe, expect, it } from 'vitest'
import { UI_SESSION_IDLE_MS, UI_TOKEN_TTL_MS, uiSessions } from '../../../../daemon/api/ui-session.js'

describe('web UI sign-in', () => {
  it('spends a token once, within its lifetime, for a session that lapses when idle', () => {
    let now = 1_000_000
    const sessions = uiSessions(() => now)
    const token = sessions.issueToken()
    const session = sessions.redeem(token)
    expect(session).toMatch(/^[A-Za-z0-9_-]{40,}$/)
    expect(sessions.redeem(token)).toBeNull() // once only
    expect(sessions.valid(session ?? undefined)).toBe(true)
    expect(sessions.valid('forged')).toBe(false)
    expect(sessions.valid(undefined)).toBe(false)

    const late = sessions.issueToken()
    now += UI_TOKEN_TTL_MS + 1
    expect(sessions.redeem(late)).toBeNull() // expired

    now += UI_SESSION_IDLE_MS - UI_TOKEN_TTL_MS - 2 // still within the idle window since its last use
    expect(sessions.valid(session ?? undefined)).toBe(true)
    now += UI_SESSION_IDLE_MS + 1
    expect(sessions.valid(session ?? undefined)).toBe(false)

    const other = sessions.redeem(sessions.issueToken()) ?? undefined
    sessions.end(other)
    expect(sessions.valid(other)).toBe(false)
  })
})
