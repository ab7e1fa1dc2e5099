import { describe, expect, it } from 'vitest'
import { jobEvents } from '../../../../daemon/jobs/job-events.js'

const at = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString()

describe('job events', () => {
  it('log a start and an end once each, and hand the end to notifications', () => {
    const logged: any[] = []
    const ended: string[] = []
    const events = jobEvents({ self: 'me', log: { info: (fields: any) => { logged.push(fields) } } as any, onEnded: job => { ended.push(job.ref) } })
    const job = (state: string, states: Array<{ state: string, at: string }>): any => ({ jobId: 'j', ref: 'a/p/1', provider: 'me', state, states, receipt: null, reason: null })
    events.note(job('matching', [{ state: 'matching', at: at(5000) }]))
    events.note(job('running', [{ state: 'running', at: at(4000) }]))
    events.note(job('running', [{ state: 'running', at: at(4000) }]))
    events.note(job('success', [{ state: 'running', at: at(4000) }, { state: 'success', at: at(0) }]))
    expect(logged.map(f => f.event)).toEqual(['job.started', 'job.ended'])
    expect(logged[1]).toMatchObject({ ref: 'a/p/1', state: 'success' })
    expect(logged[1].seconds).toBeGreaterThan(3.9)
    expect(ended).toEqual(['a/p/1'])
  })

  it('stay quiet about a job that ended long before this daemon saw it (a save after a restart)', () => {
    const ended: string[] = []
    const events = jobEvents({ self: 'me', log: { info: () => {} } as any, onEnded: job => { ended.push(job.ref) } })
    events.note({ jobId: 'old', ref: 'a/p/2', state: 'failed', states: [{ state: 'failed', at: at(3_600_000) }], receipt: null, reason: 'exit code 1' } as any)
    events.note({ jobId: 'new', ref: 'a/p/3', state: 'failed', states: [{ state: 'failed', at: at(10) }], receipt: null, reason: 'exit code 1' } as any)
    expect(ended).toEqual(['a/p/3'])
  })
})
