import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { decodeClientMessage, encodeJobMessage } from '../../../../protocol/jobs/wire.js'
import { lostJobReconciler } from '../../../../daemon/jobs/reconcile.js'
import type { JobRecord } from '../../../../daemon/jobs/records.js'
import { localChannelPair, type MessageChannel } from '../../../../daemon/p2p/message-channel.js'

const JOB = 'ef'.repeat(16)
const at = new Date().toISOString()

function lostRecord (): JobRecord {
  return {
    jobId: JOB, ref: 'me/default/1', project: 'me/default', projectId: 'p', number: 1, author: 'me', deterministic: false, reusedFrom: null, message: '', createdAt: at, specCid: 's',
    spec: { code: 'c', inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1024, gpus: 0 }, timeoutSeconds: 60, network: false },
    inputs: [], maxPricePerHour: null, requestedProvider: null, retries: 0, state: 'lost', states: [{ state: 'running', at }, { state: 'lost', at }], provider: 'P', pricePerHour: 0.1,
    attempts: [{ provider: 'P', outcome: 'accepted', reason: null, at }, { provider: 'P', outcome: 'lost', reason: 'provider P went silent', at }],
    exitCode: null, reason: 'provider P went silent', outputCid: null, logsCid: null, receipt: null, logLines: 4, metrics: {}, signedReceipt: null, leaseId: 'lease', logBase: 0
  }
}

describe('reconciling a job called lost with its provider', () => {
  it('leaves it lost while the provider is unreachable or does not know it, and follows it again once the provider says it runs it', async () => {
    let stored = lostRecord()
    let reachable: 'no' | 'unknown' | 'running' = 'no'
    const attached: unknown[] = []
    const followed: JobRecord[] = []
    const open = async (peer: string): Promise<MessageChannel> => {
      expect(peer).toBe('P')
      if (reachable === 'no') throw new Error('no route to P')
      const [ours, theirs] = localChannelPair('me', 'P')
      void (async () => {
        attached.push(decodeClientMessage(await theirs.read() as Uint8Array))
        await theirs.send(encodeJobMessage(reachable === 'unknown' ? { type: 'refused', reason: 'unknown-job', message: 'no such job' } : { type: 'state', state: 'running', at: Date.now() }))
      })()
      return ours
    }
    const reconciler = lostJobReconciler({
      open,
      get: async () => structuredClone(stored),
      save: async record => { stored = structuredClone(record) },
      follow: record => { followed.push(record) },
      following: () => followed.length > 0,
      log: pino({ level: 'silent' })
    })
    expect(await reconciler.reconcile(JOB, 'a periodic check')).toBe(false)
    reachable = 'unknown'
    expect(await reconciler.reconcile(JOB, 'a periodic check')).toBe(false)
    expect(stored.state).toBe('lost')
    reachable = 'running'
    expect(await reconciler.reconcile(JOB, 'a periodic check')).toBe(true)
    expect(attached).toEqual([{ type: 'attach', jobId: JOB, after: 4 }, { type: 'attach', jobId: JOB, after: 4 }])
    expect(stored).toMatchObject({ state: 'running', reason: null })
    expect(stored.attempts.at(-1)).toMatchObject({ provider: 'P', outcome: 'accepted', reason: 'followed again (a periodic check): the provider still has the job, running' })
    expect(followed.map(r => r.state)).toEqual(['running'])
    // followed now: not asked again
    expect(await reconciler.reconcile(JOB, 'a periodic check')).toBe(false)
  })
})
