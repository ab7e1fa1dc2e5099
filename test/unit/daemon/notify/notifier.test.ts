import { describe, expect, it } from 'vitest'
import { Config } from '../../../../daemon/config/config.js'
import { desktopCommand } from '../../../../daemon/notify/notifier.js'

describe('notifications', () => {
  it('show on a desktop only where there is a session to show them', () => {
    expect(desktopCommand({}, 'linux')).toBeNull()
    expect(desktopCommand({ DISPLAY: ':0' }, 'linux')?.('floe: job a/b/1 success', 'ran 3.0s')).toEqual(['notify-send', ['--app-name=floe', 'floe: job a/b/1 success', 'ran 3.0s']])
    expect(desktopCommand({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' }, 'linux')).not.toBeNull()
    // the text is quoted, not AppleScript
    expect(desktopCommand({}, 'darwin')?.('t"x', 'b')).toEqual(['osascript', ['-e', 'display notification "b" with title "t\\"x"']])
    expect(desktopCommand({ DISPLAY: ':0' }, 'win32')).toBeNull()
  })

  it('post only to http(s) webhooks, with a secret long enough to sign', () => {
    expect(Config.parse({ notify: { webhook: 'https://hooks.example/floe' } }).notify).toEqual({ webhook: 'https://hooks.example/floe', webhookSecret: null, desktop: 'auto' })
    expect(Config.safeParse({ notify: { webhook: 'file:///etc/passwd' } }).error?.issues[0]?.message).toBe('only http:// and https:// webhook URLs are allowed')
    expect(Config.safeParse({ notify: { webhook: 'not a url' } }).success).toBe(false)
    expect(Config.safeParse({ notify: { webhookSecret: 'short' } }).success).toBe(false)
    expect(Config.safeParse({ notify: { desktop: 'sometimes' } }).success).toBe(false)
  })
})
