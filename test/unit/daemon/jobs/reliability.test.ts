import { describe, expect, it } from 'vitest'
import { reliabilityTally } from '../../../../daemon/jobs/reliability.js'

const at = '2026-11-29T00:00:00.000Z'

describe('provider reliability', () => {
  it('is the share of jobs a provider carried to an end rather than lost, counted once per job as its record changes', () => {
    const tally = reliabilityTally()
    expect(tally.of('A')).toBeUndefined()
    // a job lost on A, then ended by B
    tally.update({ jobId: '1', state: 'running', provider: 'A', receipt: null, attempts: [{ provider: 'A', outcome: 'accepted', reason: null, at }] })
    expect(tally.of('A')).toBeUndefined()
    tally.update({ jobId: '1', state: 'matching', provider: null, receipt: null, attempts: [{ provider: 'A', outcome: 'accepted', reason: null, at }, { provider: 'A', outcome: 'lost', reason: 'silent', at }] })
    tally.update({ jobId: '1', state: 'failed', provider: 'B', receipt: { provider: 'B' } as any, attempts: [{ provider: 'A', outcome: 'lost', reason: 'silent', at }, { provider: 'B', outcome: 'accepted', reason: null, at }] })
    expect(tally.of('A')).toBe(0)
    expect(tally.of('B')).toBe(1)
    // A ends two more: 2 of 3
    for (const jobId of ['2', '3']) tally.update({ jobId, state: 'success', provider: 'A', receipt: { provider: 'A' } as any, attempts: [] })
    expect(tally.of('A')).toBeCloseTo(2 / 3)
    // the same record seen again changes nothing
    tally.update({ jobId: '3', state: 'success', provider: 'A', receipt: { provider: 'A' } as any, attempts: [] })
    expect(tally.of('A')).toBeCloseTo(2 / 3)
  })

  it('counts a refused receipt (a dispute) against its provider, and a loss the provider disproved (the job was followed again) not at all', () => {
    const tally = reliabilityTally()
    tally.update({ jobId: '1', state: 'failed', provider: 'A', receipt: null, attempts: [{ provider: 'A', outcome: 'accepted', reason: null, at }], dispute: { provider: 'A', refusal: 'cost', message: 'cost 1000000 is not price × time', at, claimed: null, outputFetched: false } })
    expect(tally.of('A')).toBe(0)
    tally.update({ jobId: '2', state: 'success', provider: 'B', receipt: { provider: 'B' } as any, attempts: [{ provider: 'B', outcome: 'accepted', reason: null, at }, { provider: 'B', outcome: 'lost', reason: 'silent', at }, { provider: 'B', outcome: 'accepted', reason: 'followed again', at }] })
    expect(tally.of('B')).toBe(1)
  })
})
