import { describe, expect, it } from 'vitest'
import { isFloeCookie, notebookRequestHeaders } from '../../../../daemon/workspaces/notebook-proxy.js'
import { KEEPALIVE, notebookOf, workspaceCommand } from '../../../../protocol/workspaces/notebook.js'

const TOKEN = 'ab'.repeat(32)

describe('a Jupyter workspace\'s command', () => {
  it('carries its mode and token, read back from the spec; off is the plain keep-alive', () => {
    expect(notebookOf(workspaceCommand('auto', TOKEN))).toEqual({ mode: 'auto', token: TOKEN })
    expect(notebookOf(workspaceCommand('on', TOKEN))).toEqual({ mode: 'on', token: TOKEN })
    expect(workspaceCommand('off', TOKEN)).toEqual(KEEPALIVE)
    expect(notebookOf(KEEPALIVE)).toBeNull()
  })

  it('is not mistaken for a job that looks like it, and refuses a token that is not 64 hex digits', () => {
    const command = workspaceCommand('auto', TOKEN)
    expect(notebookOf([...command.slice(0, 5), 'x'.repeat(64)])).toBeNull()
    expect(notebookOf([...command.slice(0, 2), 'echo hi', ...command.slice(3)])).toBeNull()
    expect(notebookOf([...command, 'extra'])).toBeNull()
    expect(() => workspaceCommand('on', 'short')).toThrow(/64 hex digits/)
    expect(() => workspaceCommand('on', `${TOKEN.slice(1)}'`)).toThrow(/64 hex digits/)
  })
})

describe('what the notebook proxy forwards', () => {
  it('drops any Authorization and floe\'s cookies, keeps the notebook\'s own cookies, Host and Origin', () => {
    const out = notebookRequestHeaders({
      host: '127.0.0.2:4000',
      origin: 'http://127.0.0.2:4000',
      authorization: 'Bearer floe-api-token',
      'proxy-authorization': 'Basic eA==',
      cookie: 'floe_session=secret; _xsrf=2|abc; FLOE_other=1; username-127-0-0-2-4000="2|x"',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5'
    })
    expect(out).toEqual({ host: '127.0.0.2:4000', origin: 'http://127.0.0.2:4000', cookie: '_xsrf=2|abc; username-127-0-0-2-4000="2|x"' })
  })

  it('drops the Cookie header when only floe\'s cookies were in it', () => {
    expect(notebookRequestHeaders({ cookie: ' floe_session=secret ' })).toEqual({})
  })

  it('keeps a WebSocket handshake an upgrade, still without floe\'s credentials', () => {
    const out = notebookRequestHeaders({ connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k', cookie: 'floe_session=s', authorization: 'Basic x' }, true)
    expect(out).toEqual({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' })
  })

  it('names floe\'s cookies', () => {
    expect(isFloeCookie('floe_session')).toBe(true)
    expect(isFloeCookie(' Floe_Session')).toBe(true)
    expect(isFloeCookie('_xsrf')).toBe(false)
  })
})
