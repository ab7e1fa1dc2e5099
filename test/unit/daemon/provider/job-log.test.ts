import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { MEMORY_BYTES, openJobLog, READ_BYTES } from '../../../../daemon/provider/job-log.js'

let dir: string | undefined
afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

describe('a job log on the provider', () => {
  it('numbers lines, serves any range (old ones from the file), and survives a reopen', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const path = join(dir, 'log.ndjson')
    const log = await openJobLog(path, { memoryLines: 3 })
    for (let i = 1; i <= 10; i++) log.append({ at: 1000 + i, stream: i % 2 === 0 ? 'stderr' : 'stdout', line: `line ${i}` })
    expect(log.lastSeq()).toBe(10)
    expect((await log.read(8, 100)).map(l => l.line)).toEqual(['line 9', 'line 10'])
    // older than memory holds: read back from the file, at most as many as asked
    expect((await log.read(0, 100)).map(l => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect((await log.read(4, 3)).map(l => l.seq)).toEqual([5, 6, 7])
    await log.close()
    const reopened = await openJobLog(path, { memoryLines: 3 })
    expect(reopened.lastSeq()).toBe(10)
    expect(reopened.lastContainerAt()).toBe(1010)
    expect(reopened.append({ at: 2000, stream: 'stdout', line: 'after' })?.seq).toBe(11)
    await reopened.close()
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(11)
  })

  it('reads from deep in a long log without holding it in memory, and wakes a waiting reader', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const log = await openJobLog(join(dir, 'log.ndjson'), { memoryLines: 100 })
    for (let i = 1; i <= 5000; i++) log.append({ at: i, stream: 'stdout', line: String(i) })
    expect((await log.read(2500, 3)).map(l => l.line)).toEqual(['2501', '2502', '2503'])
    expect((await log.read(4998, 10)).map(l => l.line)).toEqual(['4999', '5000'])
    const waiting = log.waitFor(5000, new AbortController().signal)
    let woke = false
    void waiting.then(() => { woke = true })
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(woke).toBe(false)
    log.append({ at: 1, stream: 'stdout', line: 'new' })
    await waiting
    await log.close()
  })

  it('stops growing at its size cap, saying so once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const log = await openJobLog(join(dir, 'log.ndjson'), { maxBytes: 2000 })
    let kept = 0
    for (let i = 0; i < 100; i++) if (log.append({ at: i, stream: 'stdout', line: 'x'.repeat(100) })?.stream === 'stdout') kept++
    expect(kept).toBeGreaterThan(5)
    expect(kept).toBeLessThan(20)
    const lines = await log.read(0, Infinity)
    expect(lines.filter(l => l.stream === 'system').map(l => l.line)).toEqual(['the log reached 2000 bytes; further lines are dropped'])
    expect(log.append({ at: 1, stream: 'stdout', line: 'late' })).toBeNull()
    await log.close()
  })
})

describe('a job log printing long lines', () => {
  it('holds at most MEMORY_BYTES of them in memory and returns at most READ_BYTES a read, the rest from the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const path = join(dir, 'log.ndjson')
    const log = await openJobLog(path)
    const long = 'x'.repeat(60 * 1024)
    for (let i = 1; i <= 1000; i++) log.append({ at: 1000 + i, stream: 'stdout', line: `${i} ${long}` })
    expect(log.lastSeq()).toBe(1000)
    // 60 MiB printed: lines alone would keep all 1000 (MEMORY_LINES is 10,000)
    expect(log.heldBytes()).toBeLessThanOrEqual(MEMORY_BYTES)
    expect(log.heldBytes()).toBeGreaterThan(MEMORY_BYTES - 64 * 1024)
    const recent = await log.read(990, 1024)
    expect(recent.map(l => l.seq)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000])
    const fromFile = await log.read(0, 1024)
    expect(fromFile[0]?.seq).toBe(1)
    expect(fromFile.length).toBe(Math.floor(READ_BYTES / (long.length + 70)))
    // one line longer than a read's bytes still comes, alone
    expect((await log.read(5, 1024, 1000)).map(l => l.seq)).toEqual([6])
    await log.close()
    const reopened = await openJobLog(path)
    expect(reopened.heldBytes()).toBeLessThanOrEqual(MEMORY_BYTES)
    expect((await reopened.read(999, 10)).map(l => l.seq)).toEqual([1000])
    await reopened.close()
  })
})

describe('a job log\'s memory', () => {
  it('does not grow the heap with what a job prints: 120 MiB of 60 KiB lines leave it within 16 MiB', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    dir = await mkdtemp(join(tmpdir(), 'floe-log-'))
    const log = await openJobLog(join(dir, 'log.ndjson'))
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 1; i <= 2000; i++) {
      // a fresh string each line, as Docker's bytes decoded are
      log.append({ at: i, stream: 'stdout', line: `${i} ${'x'.repeat(60 * 1024)}` })
      if (i % 100 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    await log.close()
    gc()
    const grown = process.memoryUsage().heapUsed - before
    // before the bound the newest 10,000 lines were held, whatever their size: +120 MiB here
    expect(grown).toBeLessThan(16 * 1024 * 1024)
    expect(log.lastSeq()).toBe(2000)
  }, 60_000)
})
