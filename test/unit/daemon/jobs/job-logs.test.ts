import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { LogLine } from '../../../../protocol/jobs/job.js'
import { jobLogFeed } from '../../../../daemon/jobs/job-logs.js'
import type { JobRecord } from '../../../../daemon/jobs/records.js'

const job = (state: JobRecord['state']): JobRecord => ({ jobId: 'a'.repeat(32), state } as unknown as JobRecord)
const line = (seq: number): LogLine => ({ seq, at: seq, stream: 'stdout', line: `line ${seq}` })
const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('job log feed', () => {
  it('keeps one abort listener on the signal however many lines a follow waits for (a long logs -f piled one up per wait)', async () => {
    const feed = jobLogFeed({ logs: async function * () {} })
    const stop = new AbortController()
    const seen: number[] = []
    const following = feed.follow(job('running'), { after: 0, follow: true, signal: stop.signal, onLine: l => seen.push(l.seq) })
    for (let seq = 1; seq <= 50; seq++) {
      await tick()
      feed.notify(job('running'), [line(seq)])
    }
    await tick()
    expect(seen).toHaveLength(50)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1)
    stop.abort()
    expect((await following).state).toBe('running')
    // and none left once the follow ends, nor a listener on the job
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
    expect(feed.following('a'.repeat(32))).toBe(0)
  })

  it('hands on stored lines, then new ones in order without repeats, until the job ends', async () => {
    const feed = jobLogFeed({ logs: async function * (_jobId, after) { for (let seq = after + 1; seq <= 3; seq++) yield line(seq) } })
    const seen: number[] = []
    const following = feed.follow(job('running'), { after: 1, follow: true, onLine: l => seen.push(l.seq) })
    await tick()
    feed.notify(job('running'), [line(3), line(4)])
    await tick()
    feed.notify(job('success'), [line(5)])
    expect((await following).state).toBe('success')
    expect(seen).toEqual([2, 3, 4, 5])
  })
})
