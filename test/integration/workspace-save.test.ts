import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, addr, resources } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

describe('workspace: save home now, idle countdown (/floe/job/1.3.0)', () => {
  it('saves on request (at most once in 10 s), returns a CID holding the file; the idle stop moves later after terminal traffic', { timeout: 90_000 }, async () => {
    const provider = await r.start('--provider')
    const client = await r.start()
    const home = ['--home', client.home]
    await floeJson(['connect', await addr(provider), ...home])
    await expect.poll(async () => (await floeJson(['providers', ...home])).providers.length, { timeout: 10_000 }).toBe(1)
    const code = await r.codeFolder({ 'train.py': 'print(1)\n' })
    await floeJson(['workspace', 'start', 'lab', '--path', code, '--idle-timeout', '1h', ...home])
    await expect.poll(async () => (await floeJson(['status', 'lab', ...home])).state, { timeout: 30_000 }).toBe('running')

    // the provider's last-traffic time reaches the client: a deadline about an hour out
    const idleStop = async (): Promise<number> => {
      const { workspaces } = await floeJson(['workspace', 'ls', '--json', ...home])
      const at = workspaces.find((w: any) => w.message === 'lab')?.idleStopAt
      return at == null ? 0 : Date.parse(at)
    }
    await expect.poll(idleStop, { timeout: 10_000 }).toBeGreaterThan(0)
    const before = await idleStop()
    expect(before - Date.now()).toBeGreaterThan(55 * 60_000)
    expect(before - Date.now()).toBeLessThanOrEqual(3600_000)
    const table = await floe(['workspace', 'ls', ...home])
    expect(table.stdout).toMatch(/IDLE STOP/)
    expect(table.stdout).toMatch(/in 60 min|in 59 min|in 1 h/)

    // terminal traffic, and a file in the home; the deadline moves later
    await new Promise(resolve => setTimeout(resolve, 1_200))
    const wrote = await floe(['shell', 'lab', ...home, '--', 'sh', '-c', 'echo saved-on-request > note.txt'], { timeoutMs: 30_000 })
    expect(wrote.code).toBe(0)
    await expect.poll(idleStop, { timeout: 10_000 }).toBeGreaterThan(before)

    // save now: the CID names a save holding the file
    const saved = await floeJson(['workspace', 'save', 'lab', '--json', ...home])
    expect(saved).toMatchObject({ home: expect.stringMatching(/^baf/), bytes: expect.any(Number), savedAt: expect.any(String) })
    const dest = join(await r.codeFolder({}), 'out')
    const got = await floe(['data', 'get', saved.home, dest, ...home])
    expect(got.code, got.stderr).toBe(0)
    expect(await readFile(join(dest, 'home', 'note.txt'), 'utf8')).toBe('saved-on-request\n')
    // the workspace's listing names it as its latest home
    expect((await floeJson(['status', 'lab', ...home])).homeCid).toBe(saved.home)

    // a second save within 10 s is refused by the provider, in one line that says when to try again
    const again = await floe(['workspace', 'save', 'lab', ...home])
    expect(again.code).toBe(1)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toMatch(/the provider did not save the home: a save was asked for \d+ s ago; this provider saves on request at most once every 10 s: try again in \d+ s/)

    // a stopped workspace is not saved on request: its home was saved as it stopped
    const stopped = await floeJson(['workspace', 'stop', 'lab', ...home])
    const late = await floe(['workspace', 'save', 'lab', ...home])
    expect(late.code).toBe(1)
    expect(late.stderr).toContain(`workspace lab is stopped, not running: its home was saved as it stopped (${stopped.outputCid as string}); see floe workspace history lab`)
  })
})
