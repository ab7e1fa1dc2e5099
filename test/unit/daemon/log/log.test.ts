import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RotatingLogFile } from '../../../../daemon/log-file.js'
import { rateLimitedWarn } from '../../../../daemon/log.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-log-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('the daemon log file', () => {
  it('rotates by size, keeping a bounded number of older files, every line whole', async () => {
    const file = join(dir, 'daemon.log')
    const log = new RotatingLogFile(file, 10_000, 3)
    const line = (i: number): string => `${JSON.stringify({ i, pad: 'x'.repeat(90) })}\n`
    for (let i = 0; i < 2_000; i++) log.write(line(i))
    expect((await readdir(dir)).sort()).toEqual(['daemon.log', 'daemon.log.1', 'daemon.log.2', 'daemon.log.3'])
    for (const name of await readdir(dir)) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(10_000)
    const newest = (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l).i as number)
    expect(newest.at(-1)).toBe(1_999)
    const previous = (await readFile(`${file}.1`, 'utf8')).trim().split('\n').map(l => JSON.parse(l).i as number)
    expect(previous.at(-1)).toBe((newest[0] as number) - 1)
  })

  it('lets at most N warnings a minute through for one key, then says how many it left out', () => {
    const seen: Array<{ fields: Record<string, unknown>, message: string }> = []
    const warn = rateLimitedWarn({ warn: (fields: Record<string, unknown>, message: string) => { seen.push({ fields, message }) } } as any, { perMinute: 5 })
    for (let i = 0; i < 4_096; i++) warn('peerA:not-invited', { i }, 'a peer offered a project')
    warn('peerB:not-invited', { i: 0 }, 'a peer offered a project')
    expect(seen).toHaveLength(6)
    expect(seen.filter(s => s.fields.i === 0)).toHaveLength(2)
  })
})
