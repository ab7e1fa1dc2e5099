import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })

describe('floe daemon', () => {
  it('connects two daemons with floe connect, and each lists the other in floe peers', async () => {
    const a = r.daemon(await startDaemon(r.folder(await tempHome())))
    const b = r.daemon(await startDaemon(r.folder(await tempHome())))
    const idA = await floeJson(['id', '--home', a.home])
    const idB = await floeJson(['id', '--home', b.home])
    expect(idA.peerId).toBe(a.endpoint.peerId)
    expect(idA.addresses[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${idA.peerId}$`))

    const connected = await floeJson(['connect', idA.addresses[0], '--home', b.home])
    expect(connected.peerId).toBe(idA.peerId)

    const peersOfB = await floeJson(['peers', '--home', b.home])
    expect(peersOfB.map((p: any) => p.peerId)).toEqual([idA.peerId])
    expect(peersOfB[0].direction).toBe('outbound')
    // The inbound side learns of the connection once the handshake completes on its end.
    await expect.poll(async () => (await floeJson(['peers', '--home', a.home])).map((p: any) => p.peerId), { timeout: 10_000, interval: 200 }).toEqual([idB.peerId])

    const table = await floe(['peers', '--home', a.home])
    expect(table.code).toBe(0)
    expect(table.stdout).toContain('PEER')
    expect(table.stdout).toContain(idB.peerId)
  })

  it('dials its bootstrap peers by itself', async () => {
    const a = r.daemon(await startDaemon(r.folder(await tempHome())))
    const addrA = (await floeJson(['id', '--home', a.home])).addresses[0]
    const b = r.daemon(await startDaemon(r.folder(await tempHome()), ['--bootstrap', addrA]))
    await expect.poll(async () => (await floeJson(['peers', '--home', b.home])).map((p: any) => p.peerId), { timeout: 20_000 })
      .toEqual([a.endpoint.peerId])
  })

  it('keeps its peer id across restarts, with its secrets private to the owner', async () => {
    const home = r.folder(await tempHome())
    const first = await startDaemon(home)
    const firstId = first.endpoint.peerId
    expect(await first.stop('SIGTERM')).toBe(0)
    // A graceful stop withdraws the endpoint, so the CLI knows no daemon runs.
    expect(existsSync(join(home, 'api.json'))).toBe(false)

    const second = r.daemon(await startDaemon(home))
    expect(second.endpoint.peerId).toBe(firstId)
    expect((await floeJson(['id', '--home', home])).peerId).toBe(firstId)
    for (const file of ['identity.key', 'api-token', 'api.json']) {
      expect(statSync(join(home, file)).mode & 0o777, file).toBe(0o600)
    }
  })

  it('refuses a second daemon on the same home and leaves the first working', async () => {
    const home = r.folder(await tempHome())
    const first = r.daemon(await startDaemon(home))
    const endpointBefore = readFileSync(join(home, 'api.json'), 'utf8')

    const second = await floe(['daemon', '--home', home, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'])
    expect(second.code).toBe(1)
    expect(second.stderr.trim()).toBe(
      `floe daemon: another floe daemon is using the home ${home} (pid ${first.endpoint.pid}, API ${first.endpoint.url}); stop it first, or start this one with another --home`)
    expect(second.stderr).not.toMatch(/\n\s+at /)

    expect(readFileSync(join(home, 'api.json'), 'utf8')).toBe(endpointBefore)
    expect((await floeJson(['id', '--home', home])).peerId).toBe(first.endpoint.peerId)
  })

  it('can be restarted at once after being killed: the home lock dies with the process', async () => {
    const home = r.folder(await tempHome())
    const first = await startDaemon(home)
    await first.stop('SIGKILL')
    // api.json is stale now; the CLI must say so plainly.
    const stale = await floe(['id', '--home', home])
    expect(stale.code).toBe(1)
    expect(stale.stderr).toContain(`no floe daemon is running for ${home}`)
    expect(stale.stderr).toContain(`pid ${first.endpoint.pid} has probably exited`)

    const second = r.daemon(await startDaemon(home))
    expect(second.endpoint.peerId).toBe(first.endpoint.peerId)
  })

  it('keeps the pid it was started with while it takes on its V8 flag (a small young generation)', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome())))
    expect(d.endpoint.pid).toBe(d.process.pid)
    const args = readFileSync(`/proc/${d.endpoint.pid}/cmdline`, 'utf8').split('\0')
    expect(args.filter(arg => arg.startsWith('--max-semi-space-size'))).toEqual(['--max-semi-space-size=4'])
    expect(args).toContain('daemon')
    expect((await floeJson(['id', '--home', d.home])).peerId).toBe(d.endpoint.peerId)
  })

  it('stops gracefully on SIGINT, and a second signal forces the exit', async () => {
    const d = await startDaemon(r.folder(await tempHome()))
    expect(await d.stop('SIGINT')).toBe(0)
    expect(d.output()).toContain('"msg":"stopped"')

    const e = await startDaemon(r.folder(await tempHome()))
    e.process.kill('SIGINT')
    e.process.kill('SIGINT')
    const code = await e.exited
    // Either the graceful stop finished first (0) or the second signal cut it short (130).
    expect([0, 130]).toContain(code)
  })

  it('writes structured logs per component to a file in its home', async () => {
    const home = r.folder(await tempHome())
    const d = await startDaemon(home)
    await d.stop('SIGTERM')
    const lines = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8').trim().split('\n').map(line => JSON.parse(line))
    const ready = lines.find(line => line.msg === 'daemon ready')
    expect(ready).toMatchObject({ component: 'floe:node', peerId: d.endpoint.peerId, api: d.endpoint.url })
  })

  it('refuses a non-loopback API address and a broken config with one clear line', async () => {
    const home = r.folder(await tempHome())
    const exposed = await floe(['daemon', '--home', home, '--api', '0.0.0.0:7460', '--no-mdns'])
    expect(exposed.code).toBe(1)
    expect(exposed.stderr.trim()).toBe('floe daemon: invalid API address "0.0.0.0:7460": the API listens on loopback only (127.0.0.1, localhost or [::1])')

    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
    expect(config).toMatchObject({ api: '127.0.0.1:7460', listen: ['/ip4/0.0.0.0/tcp/4460'], bootstrap: [], mdns: true, logLevel: 'info', provider: { enabled: false } })

    writeFileSync(join(home, 'config.json'), '{"api": "127.0.0.1:0", "mdns": false, "listen": ["/ip4/127.0.0.1/tcp/0"], "bootstarp": []}')
    const broken = await floe(['daemon', '--home', home])
    expect(broken.code).toBe(1)
    expect(broken.stderr.trim()).toBe(`floe daemon: ${join(home, 'config.json')} is invalid: (root): Unrecognized key: "bootstarp"`)
    expect(existsSync(join(home, 'api.json'))).toBe(false)
  })
})

describe('floe CLI without a daemon', () => {
  it('prints how to start one and exits 1, without a stack trace', async () => {
    const home = r.folder(await tempHome())
    for (const args of [['id'], ['peers', '--json'], ['connect', '/ip4/127.0.0.1/tcp/1']]) {
      const result = await floe([...args, '--home', home])
      expect(result.code, args.join(' ')).toBe(1)
      expect(result.stdout).toBe('')
      expect(result.stderr).toBe(`floe ${args[0]}: no floe daemon is running for ${home} (no api.json there); start one with: floe daemon --home ${home}\n`)
    }
  })

  it('finds the home from FLOE_HOME', async () => {
    const home = r.folder(await tempHome())
    const result = await floe(['id'], { env: { FLOE_HOME: home } })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`no floe daemon is running for ${home}`)
  })

  it('has --help on every command', async () => {
    const commands = ['daemon', 'id', 'peers', 'connect', 'data upload', 'data ls', 'data get', 'data rm', 'data export', 'data import',
      'repo stat', 'gc', 'providers', 'provider show', 'provider on', 'provider off', 'provider set', 'run']
    for (const command of commands) {
      const result = await floe([...command.split(' '), '--help'])
      expect(result.code, command).toBe(0)
      expect(result.stdout, command).toContain(`Usage: floe ${command}`)
    }
  })
})
