import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import type { LogLine } from '../../../../protocol/jobs/job.js'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt } from '../../../../protocol/jobs/receipt.js'
import { decodeClientMessage, encodeJobMessage, JOB_SILENCE_MS, type ProviderMessage } from '../../../../protocol/jobs/wire.js'
import { REATTACH_WINDOW_MS, runJob, type RunnerComponents } from '../../../../daemon/jobs/job-runner.js'
import type { JobRecord } from '../../../../daemon/jobs/records.js'
import { localChannelPair, type MessageChannel } from '../../../../daemon/p2p/message-channel.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'

const SPEC = 'bafyreif2gi3tsque7bckt66upkb4zdrbuqozpu66ns67dsmlt6mtrhh7pi'
const JOB = 'cd'.repeat(16)

function record (): JobRecord {
  return {
    jobId: JOB, ref: 'me/default/1', project: 'me/default', projectId: SPEC, number: 1, author: 'me', deterministic: false, reusedFrom: null, message: '', createdAt: new Date().toISOString(), specCid: SPEC,
    spec: { code: SPEC, inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1024, gpus: 0 }, timeoutSeconds: 60, network: false },
    inputs: [], maxPricePerHour: null, requestedProvider: null, retries: 0, state: 'queued', states: [], provider: null, pricePerHour: null, attempts: [],
    exitCode: null, reason: null, outputCid: null, logsCid: null, receipt: null, logLines: 0, metrics: {}, signedReceipt: null, leaseId: null, logBase: 0
  }
}

describe('the job runner', () => {
  it('after a broken stream, reattaches and resumes the log from the last line it holds, then checks the receipt', async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const providerKey = await generateKeyPair('Ed25519')
    const client = peerIdFromPrivateKey(clientKey).toString()
    const provider = peerIdFromPrivateKey(providerKey).toString()
    const line = (seq: number): ProviderMessage => ({ type: 'lines', lines: [{ seq, at: 1000 + seq, stream: 'stdout', line: `line ${seq}` }] })
    const t = Date.now()
    const receipt: Receipt = {
      version: 1, jobId: JOB, leaseId: 'lease', specCid: CID.parse(SPEC), provider, client, state: 'success', exitCode: 0, reason: null,
      times: { acceptedAt: t, preparingAt: t + 1, runningAt: t + 2, exitedAt: t + 3, uploadedAt: t + 4 }, preparingMs: 1, runMs: 1,
      usage: { cpuSeconds: 0, peakMemoryBytes: 0, gpuSeconds: 0 }, pricePerHour: 0.1, cost: 0, outputCid: CID.parse(SPEC), outputBytes: 0, logsCid: null
    }
    const payload = encodeReceipt(receipt)
    const signed = { payload, signature: await signRecord(providerKey, RECEIPT_SIGNING_DOMAIN, payload) }

    const firstMessages: unknown[] = []
    const attachAfter: number[] = []
    let opened = 0
    const open = async (peer: string): Promise<MessageChannel> => {
      expect(peer).toBe(provider)
      const [ours, theirs] = localChannelPair(client, provider)
      const conversation = ++opened
      void (async () => {
        const first = decodeClientMessage((await theirs.read()) as Uint8Array)
        firstMessages.push(first.type)
        const send = async (m: ProviderMessage): Promise<void> => { await theirs.send(encodeJobMessage(m)) }
        if (conversation === 1) {
          await send({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 0.1, gpus: [] })
          await send({ type: 'state', state: 'running', at: 1 })
          await send(line(1))
          await send(line(2))
          await new Promise(resolve => setTimeout(resolve, 50))
          theirs.abort(new Error('connection reset'))
        } else {
          if (first.type === 'attach') attachAfter.push(first.after)
          // a provider replays from where it was asked; one line again, as after a race
          await send(line(2))
          await send(line(3))
          await send({ type: 'finished', receipt: signed })
        }
      })()
      return ours
    }
    const saved: LogLine[] = []
    const job = record()
    const components: RunnerComponents = {
      self: client,
      privateKey: clientKey,
      open,
      candidates: () => ({ providers: [{ peerId: provider, costPerHour: 0.1 }], why: '', busy: false }),
      specBytes: async () => new Uint8Array([0xa0]),
      save: async (_r, lines = []) => { saved.push(...lines) },
      collect: async () => {},
      log: pino({ level: 'silent' })
    }
    await runJob(components, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
    expect(firstMessages).toEqual(['submit', 'attach'])
    expect(attachAfter).toEqual([2])
    expect(saved.map(l => l.line)).toEqual(['line 1', 'line 2', 'line 3'])
    expect(job).toMatchObject({ state: 'success', exitCode: 0, provider, logLines: 3 })
    expect(job.states.map(s => s.state)).toEqual(['matching', 'running', 'success'])
  })
})

describe('the job runner with a hostile provider', () => {
  it('refuses a receipt not signed by the provider that ran the job', async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const [providerKey, malloryKey] = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
    const client = peerIdFromPrivateKey(clientKey).toString()
    const provider = peerIdFromPrivateKey(providerKey).toString()
    const payload = encodeReceipt({
      version: 1, jobId: JOB, leaseId: 'lease', specCid: CID.parse(SPEC), provider, client, state: 'success', exitCode: 0, reason: null,
      times: { acceptedAt: 1, preparingAt: 2, runningAt: 3, exitedAt: 4, uploadedAt: 5 }, preparingMs: 1, runMs: 1,
      usage: { cpuSeconds: 0, peakMemoryBytes: 0, gpuSeconds: 0 }, pricePerHour: 0.1, cost: 0, outputCid: null, outputBytes: 0, logsCid: null
    })
    const forged = { payload, signature: await signRecord(malloryKey, RECEIPT_SIGNING_DOMAIN, payload) }
    const job = record()
    await runJob({
      self: client,
      privateKey: clientKey,
      open: async () => {
        const [ours, theirs] = localChannelPair(client, provider)
        void (async () => {
          await theirs.read()
          await theirs.send(encodeJobMessage({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 0.1, gpus: [] }))
          await theirs.send(encodeJobMessage({ type: 'finished', receipt: forged }))
        })()
        return ours
      },
      candidates: () => ({ providers: [{ peerId: provider, costPerHour: 0.1 }], why: '', busy: false }),
      specBytes: async () => new Uint8Array([0xa0]),
      save: async () => {},
      collect: async () => { throw new Error('nothing may be fetched on a forged receipt') },
      log: pino({ level: 'silent' })
    }, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
    expect(job).toMatchObject({ state: 'failed', reason: `receipt refused: it is not signed by provider ${provider}`, outputCid: null, receipt: null, dispute: { provider, refusal: 'signature', outputFetched: false } })
  })
})

describe('the job runner with a provider that overcharges', () => {
  it('refuses a receipt at 999/h costing 1,000,000 for a 2 s job: failed, a dispute, the output kept as evidence, no cost', async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const providerKey = await generateKeyPair('Ed25519')
    const client = peerIdFromPrivateKey(clientKey).toString()
    const provider = peerIdFromPrivateKey(providerKey).toString()
    const t = Date.now()
    const payload = encodeReceipt({
      version: 1, jobId: JOB, leaseId: 'lease', specCid: CID.parse(SPEC), provider, client, state: 'success', exitCode: 0, reason: null,
      times: { acceptedAt: t, preparingAt: t, runningAt: t + 10, exitedAt: t + 2_010, uploadedAt: t + 2_020 }, preparingMs: 10, runMs: 2_000,
      usage: { cpuSeconds: 0, peakMemoryBytes: 0, gpuSeconds: 0 }, pricePerHour: 999, cost: 1_000_000, outputCid: CID.parse(SPEC), outputBytes: 0, logsCid: null
    })
    const signed = { payload, signature: await signRecord(providerKey, RECEIPT_SIGNING_DOMAIN, payload) }
    const job = { ...record(), maxPricePerHour: 0.1 }
    const collected: string[] = []
    await runJob({
      self: client,
      privateKey: clientKey,
      open: async () => {
        const [ours, theirs] = localChannelPair(client, provider)
        void (async () => {
          await theirs.read()
          await theirs.send(encodeJobMessage({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 0.06, gpus: [] }))
          await theirs.send(encodeJobMessage({ type: 'finished', receipt: signed }))
        })()
        return ours
      },
      candidates: () => ({ providers: [{ peerId: provider, costPerHour: 0.06 }], why: '', busy: false }),
      specBytes: async () => new Uint8Array([0xa0]),
      save: async () => {},
      collect: async (_r, receipt) => { collected.push(receipt.outputCid?.toString() ?? '') },
      log: pino({ level: 'silent' })
    }, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
    expect(job).toMatchObject({
      state: 'failed',
      reason: 'receipt refused: its price 999/h is not the 0.06/h the provider accepted the job at',
      receipt: null,
      signedReceipt: null,
      exitCode: null,
      outputCid: SPEC,
      dispute: { provider, refusal: 'price', outputFetched: true, claimed: { cost: 1_000_000, pricePerHour: 999 } }
    })
    expect(collected).toEqual([SPEC])
  })

  it('turns down an acceptance above the price it asked for, telling the provider to cancel', async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const client = peerIdFromPrivateKey(clientKey).toString()
    const provider = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const heard: string[] = []
    const job = { ...record(), maxPricePerHour: 0.1 }
    await runJob({
      self: client,
      privateKey: clientKey,
      open: async () => {
        const [ours, theirs] = localChannelPair(client, provider)
        void (async () => {
          await theirs.read()
          await theirs.send(encodeJobMessage({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 999, gpus: [] }))
          const next = await theirs.read().catch(() => null)
          if (next != null) heard.push(decodeClientMessage(next).type)
        })()
        return ours
      },
      candidates: (_r, exclude) => ({ providers: exclude.has(provider) ? [] : [{ peerId: provider, costPerHour: 0.06 }], why: 'none left', busy: false }),
      specBytes: async () => new Uint8Array([0xa0]),
      save: async () => {},
      collect: async () => {},
      log: pino({ level: 'silent' })
    }, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
    expect(job.state).toBe('failed')
    expect(job.attempts).toMatchObject([{ provider, outcome: 'refused', reason: 'accepted at 999/h, above the 0.1/h asked' }])
    expect(heard).toEqual(['cancel'])
  })
})

describe('the job runner with this node\'s own provider', () => {
  it('never calls it silent: a quiet spell far past the heartbeat timeout (its side stalled) leaves the job running, and the receipt still ends it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] })
    try {
      const key = await generateKeyPair('Ed25519')
      const self = peerIdFromPrivateKey(key).toString()
      let provider: MessageChannel | undefined
      let opened = 0
      const job = record()
      const done = runJob({
        self,
        privateKey: key,
        open: async () => {
          opened++
          const [ours, theirs] = localChannelPair(self, self)
          provider = theirs
          void (async () => {
            await theirs.read()
            await theirs.send(encodeJobMessage({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 0.1, gpus: [] }))
            await theirs.send(encodeJobMessage({ type: 'state', state: 'running', at: Date.now() }))
          })()
          return ours
        },
        candidates: () => ({ providers: [{ peerId: self, costPerHour: 0.1 }], why: '', busy: false }),
        specBytes: async () => new Uint8Array([0xa0]),
        save: async () => {},
        collect: async () => {},
        log: pino({ level: 'silent' })
      }, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
      await vi.advanceTimersByTimeAsync(100)
      expect(job.state).toBe('running')
      // three times the silence and reattach windows, not a word from the provider side
      await vi.advanceTimersByTimeAsync(3 * (JOB_SILENCE_MS + REATTACH_WINDOW_MS))
      expect(job.state).toBe('running')
      expect(job.attempts.map(a => a.outcome)).toEqual(['accepted'])
      expect(opened).toBe(1)
      const t = Date.now()
      const payload = encodeReceipt({
        version: 1, jobId: JOB, leaseId: 'lease', specCid: CID.parse(SPEC), provider: self, client: self, state: 'success', exitCode: 0, reason: null,
        times: { acceptedAt: t - 40_000, preparingAt: t - 40_000, runningAt: t - 39_000, exitedAt: t - 1_000, uploadedAt: t }, preparingMs: 1_000, runMs: 38_000,
        usage: { cpuSeconds: 0, peakMemoryBytes: 0, gpuSeconds: 0 }, pricePerHour: 0.1, cost: Math.round(0.1 * 38_000 / 3_600_000 * 1e6) / 1e6, outputCid: CID.parse(SPEC), outputBytes: 0, logsCid: null
      })
      await provider?.send(encodeJobMessage({ type: 'finished', receipt: { payload, signature: await signRecord(key, RECEIPT_SIGNING_DOMAIN, payload) } }))
      await vi.advanceTimersByTimeAsync(100)
      await done
      expect(job).toMatchObject({ state: 'success', receipt: { cost: 0.001056 } })
    } finally {
      vi.useRealTimers()
    }
  })
})
