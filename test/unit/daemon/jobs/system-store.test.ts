import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_SYSTEM_SAMPLES_PER_MESSAGE, type SystemSample } from '../../../../protocol/jobs/system-metrics.js'
import { systemSamples } from '../../../../daemon/jobs/system-store.js'

describe('a job\'s stored system samples', () => {
  let dir: string
  let db: ClassicLevel<string, string>
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-system-'))
    db = new ClassicLevel(dir)
    await db.open()
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  const batch = (from: number, count: number, stepMs: number): SystemSample[] => Array.from({ length: count }, (_, i) => ({ at: from + i * stepMs, cpuPercent: 10, memoryBytes: 100 }))

  it('keep what is admitted, in time order, and survive a reopen', async () => {
    const store = systemSamples(db)
    expect(await store.append('j', batch(1_000_000, 3, 1000), 2_000_000)).toEqual({ kept: 3, dropped: 0, thinned: false })
    // a resend after a reattach: nothing new
    expect(await store.append('j', batch(1_000_000, 4, 1000), 2_000_000)).toEqual({ kept: 1, dropped: 3, thinned: false })
    expect((await systemSamples(db).series('j')).map(s => s.at)).toEqual([1_000_000, 1_001_000, 1_002_000, 1_003_000])
    expect(await store.series('other')).toEqual([])
  })

  it('stay bounded whatever a provider sends: a flood of samples a millisecond apart, then a very long job, thinned past the cap', async () => {
    const store = systemSamples(db, { maxPerJob: 100 })
    const now = 10_000_000_000
    let dropped = 0
    // 64,000 samples a millisecond apart: 1 a second kept
    for (let m = 0; m < 1000; m++) dropped += (await store.append('j', batch(now - 100_000 + m * MAX_SYSTEM_SAMPLES_PER_MESSAGE, MAX_SYSTEM_SAMPLES_PER_MESSAGE, 1), now)).dropped
    expect(dropped).toBeGreaterThan(63_000)
    const afterFlood = await store.series('j')
    expect(afterFlood.length).toBeLessThanOrEqual(100)
    // a long honest job: 1,000 samples a second apart, never more than the cap kept
    let thinned = 0
    for (let m = 0; m < 16; m++) if ((await store.append('j', batch(now + m * 64_000, 64, 1000), now + 2_000_000)).thinned) thinned++
    expect(thinned).toBeGreaterThan(0)
    const series = await store.series('j')
    expect(series.length).toBeLessThanOrEqual(100)
    expect(series.length).toBeGreaterThan(40)
    // still in time order, still reaching the newest
    expect(series.map(s => s.at)).toEqual([...series.map(s => s.at)].sort((a, b) => a - b))
    expect(series.at(-1)?.at).toBe(now + 15 * 64_000 + 63 * 1000)
  })
})
