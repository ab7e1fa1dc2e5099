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

describe('webhook deliveries', () => {
  const job = {
    jobId: 'f'.repeat(32), ref: 'alice/mnist/3', state: 'failed', exitCode: 2, reason: 'exit code 2', outputCid: null,
    receipt: { runMs: 4200, cost: 0.5 }, states: [{ state: 'running', at: '2026-01-01T00:00:00.000Z' }, { state: 'failed', at: '2026-01-01T00:00:05.000Z' }]
  } as any

  async function receiver (statuses: number[]): Promise<{ url: string, bodies: Array<{ body: string, signature: string | undefined }>, close: () => Promise<void> }> {
    const { createServer } = await import('node:http')
    const bodies: Array<{ body: string, signature: string | undefined }> = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', c => { body += c })
      req.on('end', () => { bodies.push({ body, signature: req.headers['x-floe-signature'] as string | undefined }); res.statusCode = statuses.shift() ?? 200; res.end() })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, bodies, close: async () => { await new Promise(resolve => server.close(resolve)) } }
  }
  const quiet = (): { warn: (...a: any[]) => void, info: () => void, debug: () => void, warnings: string[] } => {
    const warnings: string[] = []
    return { warnings, warn: (_f: any, m: string) => { warnings.push(m) }, info: () => {}, debug: () => {} }
  }

  it('retry a 5xx, then deliver; the body is the job\'s end, signed', async () => {
    const { notifier } = await import('../../../../daemon/notify/notifier.js')
    const { createHmac } = await import('node:crypto')
    const hook = await receiver([503, 500])
    const log = quiet()
    const n = notifier({ settings: { webhook: hook.url, webhookSecret: 's'.repeat(16), desktop: false }, apiUrl: () => 'http://127.0.0.1:7460', log, retryPausesMs: [10, 10] })
    n.jobEnded(job)
    await n.settled()
    await hook.close()
    expect(hook.bodies).toHaveLength(3)
    expect(new Set(hook.bodies.map(b => b.body)).size).toBe(1)
    const body = JSON.parse(hook.bodies[2]!.body)
    expect(body).toEqual({ event: 'job.finished', ref: 'alice/mnist/3', jobId: 'f'.repeat(32), state: 'failed', exitCode: 2, reason: 'exit code 2', durationSeconds: 4.2, cost: 0.5, outputCid: null, url: 'http://127.0.0.1:7460/jobs/alice%2Fmnist%2F3' })
    expect(hook.bodies[2]!.signature).toBe(`sha256=${createHmac('sha256', 's'.repeat(16)).update(hook.bodies[2]!.body).digest('hex')}`)
    expect(log.warnings).toEqual([])
  })

  it('do not retry a 4xx refusal, give up after the last try, and never throw: a warning each', async () => {
    const { notifier } = await import('../../../../daemon/notify/notifier.js')
    const hook = await receiver([404, 500, 500, 500])
    const log = quiet()
    const n = notifier({ settings: { webhook: hook.url, webhookSecret: null, desktop: false }, apiUrl: () => null, log, retryPausesMs: [10, 10] })
    n.jobEnded(job)
    await n.settled()
    expect(hook.bodies).toHaveLength(1)
    expect(hook.bodies[0]!.signature).toBeUndefined()
    n.jobEnded(job)
    await n.settled()
    expect(hook.bodies).toHaveLength(4)
    await hook.close()
    // nobody listens any more: a network error, tried 3 times, a warning
    n.jobEnded(job)
    await n.settled()
    expect(log.warnings).toEqual([
      'the webhook http://127.0.0.1:' + new URL(hook.url).port + ' did not take the notification',
      'the webhook http://127.0.0.1:' + new URL(hook.url).port + ' did not take the notification',
      'the webhook http://127.0.0.1:' + new URL(hook.url).port + ' did not take the notification'
    ])
  })
})
