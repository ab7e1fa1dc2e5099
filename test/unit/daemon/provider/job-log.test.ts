import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openJobLog } from '../../../../daemon/provider/job-log.js'

let dir: string | undefined
afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

describe('a job log on the provider', () => {
  it('numbers lines, serves any range (old ones from the file), and survives a reopen', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const path = join(dir, 'log.ndjson')
    const log = await openJobLog(path, { memoryLines: 3 })
    for (let i = 1; i <= 10; i++) log.append({ at: 1000 + i, stream: i % 2 === 0 ? 'stderr' : 'stdout', line: `line ${i}` })
    expect(log.lastSeq()).toBe(10)
    expect((await log.since(8)).map(l => l.line)).toEqual(['line 9', 'line 10'])
    // older than memory holds: read back from the file
    expect((await log.since(0)).map(l => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect((await log.since(4)).map(l => l.seq)).toEqual([5, 6, 7, 8, 9, 10])
    await log.close()
    const reopened = await openJobLog(path, { memoryLines: 3 })
    expect(reopened.lastSeq()).toBe(10)
    expect(reopened.lastContainerAt()).toBe(1010)
    expect(reopened.append({ at: 2000, stream: 'stdout', line: 'after' })?.seq).toBe(11)
    await reopened.close()
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(11)
  })

  it('stops growing at its size cap, saying so once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const log = await openJobLog(join(dir, 'log.ndjson'), { maxBytes: 2000 })
    let kept = 0
    for (let i = 0; i < 100; i++) if (log.append({ at: i, stream: 'stdout', line: 'x'.repeat(100) })?.stream === 'stdout') kept++
    expect(kept).toBeGreaterThan(5)
    expect(kept).toBeLessThan(20)
    const lines = await log.since(0)
    expect(lines.filter(l => l.stream === 'system').map(l => l.line)).toEqual(['the log reached 2000 bytes; further lines are dropped'])
    expect(log.append({ at: 1, stream: 'stdout', line: 'late' })).toBeNull()
    await log.close()
  })
})
