import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { ACTIVITY_MAX_SKEW_MS, admitActiveAt, idleStopAt } from '../../../protocol/jobs/workspace-activity.js'
import { decodeClientMessage, decodeProviderMessage, encodeJobMessage } from '../../../protocol/jobs/wire.js'
import { idleCountdown } from '../../../protocol/format.js'
import { workspaceLive } from '../../../daemon/jobs/workspace-live.js'
import type { JobRecord } from '../../../daemon/jobs/records.js'

const now = 1_800_000_000_000

describe("a provider's workspace activity, bounded on receipt", () => {
  it('keeps a plausible time, reads one a little ahead (clock skew) as now, and drops the rest', () => {
    expect(admitActiveAt(null, now - 5_000, now)).toBe(now - 5_000)
    expect(admitActiveAt(null, now + 60_000, now)).toBe(now) // ahead within the skew: now, never a longer countdown
    expect(admitActiveAt(null, now + ACTIVITY_MAX_SKEW_MS + 1, now)).toBeNull()
    expect(admitActiveAt(null, Number.MAX_SAFE_INTEGER, now)).toBeNull()
    expect(admitActiveAt(null, Number.NaN, now)).toBeNull()
    expect(admitActiveAt(null, -1, now)).toBeNull()
    // never back in time, never before the run began
    expect(admitActiveAt(now - 1_000, now - 2_000, now)).toBeNull()
    expect(admitActiveAt(null, 5, now, now - 60_000)).toBeNull()
    expect(idleStopAt(now, 3600)).toBe(now + 3_600_000)
  })

  it('the wire takes only an integer time and the 1.3.0 messages', () => {
    const decode = (value: unknown): unknown => decodeProviderMessage(dagCbor.encode(value))
    expect(decode({ type: 'activity', activeAt: now })).toEqual({ type: 'activity', activeAt: now })
    for (const bad of [-1, 1.5, 2 ** 53, 'soon']) expect(() => decode({ type: 'activity', activeAt: bad }), String(bad)).toThrow(/does not fit/)
    expect(() => decode({ type: 'activity', activeAt: now, extra: 1 })).toThrow(/does not fit/)
    expect(() => decode({ type: 'save-refused', message: 'x'.repeat(1025) })).toThrow(/does not fit/)
    expect(decodeClientMessage(encodeJobMessage({ type: 'save-home' }))).toEqual({ type: 'save-home' })
    expect(() => decodeClientMessage(dagCbor.encode({ type: 'save-home', loop: true }))).toThrow(/does not fit/)
    const home = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    expect(decode({ type: 'home-saved', home, bytes: 1, at: now, requested: true })).toMatchObject({ requested: true })
    expect(() => decode({ type: 'home-saved', home, bytes: 1, at: now, requested: false })).toThrow(/does not fit/)
  })

  it("the client's view: the countdown from the admitted time, only for a running workspace", () => {
    const live = workspaceLive()
    const record = { jobId: 'j1', state: 'running', createdAt: new Date(now - 60_000).toISOString(), spec: { workspace: { idleTimeoutSeconds: 600 } } } as unknown as JobRecord
    expect(live.idle(record)).toBeNull()
    live.activity(record, now + 10 * 60_000, now) // far ahead: dropped
    expect(live.idle(record)).toBeNull()
    live.activity(record, now - 1_000, now)
    expect(live.idle(record)).toEqual({ lastActiveAt: new Date(now - 1_000).toISOString(), idleStopAt: new Date(now - 1_000 + 600_000).toISOString() })
    live.activity(record, now - 30_000, now) // older: the kept one stays
    expect(live.idle(record)?.lastActiveAt).toBe(new Date(now - 1_000).toISOString())
    expect(idleCountdown({ state: 'running', idleStopAt: new Date(now + 12 * 60_000).toISOString() }, now)).toBe('in 12 min')
    expect(idleCountdown({ state: 'stopped', idleStopAt: new Date(now + 12 * 60_000).toISOString() }, now)).toBe('-')
    // a batch job has no idle clock
    const batch = { ...record, jobId: 'j2', spec: {} } as unknown as JobRecord
    live.activity(batch, now, now)
    expect(live.idle(batch)).toBeNull()
  })

  it('a save request waits for the requested home, fails on a refusal with its reason, and times out', async () => {
    const live = workspaceLive()
    const home = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const first = live.request('j1', async () => {
      live.saved('j1', home, 10, now, false) // a periodic save meanwhile answers nothing
      live.saved('j1', home, 12, now, true)
    })
    await expect(first).resolves.toEqual({ home: home.toString(), bytes: 12, savedAt: new Date(now).toISOString() })
    const refused = live.request('j1', async () => { live.refused('j1', 'try again in 7 s') })
    await expect(refused).rejects.toThrow('the provider did not save the home: try again in 7 s')
    await expect(live.request('j1', async () => {}, 20)).rejects.toThrow(/named no saved home within 0 s/)
  })
})
