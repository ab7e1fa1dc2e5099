import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core'
import { importBytes } from 'ipfs-unixfs-importer'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { inputCache } from '../../../../daemon/provider/input-cache.js'

let dir: string | undefined
afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

describe('the input cache', () => {
  it('writes each CID once, and past its budget removes the least recently used entries no job holds', async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-inputs-'))
    const blocks = new MemoryBlockstore()
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async name => (await importBytes(Buffer.from(name.repeat(1000)), blocks)).cid))
    if (a == null || b == null || c == null) throw new Error('no CIDs')
    let budget = 10_000
    const cache = inputCache(dir, blocks, { maxBytes: () => budget, maxEntries: () => 100_000, log: pino({ level: 'silent' }) })
    const pathA = await cache.acquire(a)
    expect(await readFile(pathA, 'utf8')).toBe('a'.repeat(1000))
    expect(await cache.acquire(a)).toBe(pathA)
    await cache.acquire(b)
    await cache.acquire(c)
    cache.release(b) // used least recently of the released
    await new Promise(resolve => setTimeout(resolve, 5))
    cache.release(c)
    expect((await cache.evict()).removed).toEqual([])
    budget = 2500
    // a is still held (twice), so b then c would go; b alone brings it under budget
    expect(await cache.evict()).toEqual({ removed: [b.toString()], bytes: 2000 })
    budget = 0
    expect((await cache.evict()).removed).toEqual([c.toString()])
    expect(await readdir(dir)).toEqual([a.toString()])
    cache.release(a)
    cache.release(a)
    expect((await cache.evict()).removed).toEqual([a.toString()])
  })
})
