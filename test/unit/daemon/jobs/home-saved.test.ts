import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN } from '../../../../protocol/jobs/receipt.js'
import { encodeJobMessage } from '../../../../protocol/jobs/wire.js'
import { HOME_SAVED } from '../../../../protocol/workspaces/tunnel.js'
import { runJob } from '../../../../daemon/jobs/job-runner.js'
import type { JobRecord } from '../../../../daemon/jobs/records.js'
import { localChannelPair } from '../../../../daemon/p2p/message-channel.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { gcGuard } from '../../../../daemon/store/gc-guard.js'
import type { PinSet } from '../../../../daemon/store/pins.js'
import { homeKeeper, homeSavedInLine } from '../../../../daemon/workspaces/home-keeper.js'

const SPEC = 'bafyreif2gi3tsque7bckt66upkb4zdrbuqozpu66ns67dsmlt6mtrhh7pi'
const HOME = CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
const JOB = 'cd'.repeat(16)

function record (): JobRecord {
  return {
    jobId: JOB, ref: 'me/default/1', project: 'me/default', projectId: SPEC, number: 1, author: 'me', deterministic: false, reusedFrom: null, message: '', createdAt: new Date().toISOString(), specCid: SPEC,
    spec: { code: SPEC, inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1024, gpus: 0 }, timeoutSeconds: 60, network: false },
    inputs: [], maxPricePerHour: null, requestedProvider: null, retries: 0, state: 'queued', states: [], provider: null, pricePerHour: null, attempts: [],
    exitCode: null, reason: null, outputCid: null, logsCid: null, receipt: null, logLines: 0, metrics: {}, signedReceipt: null, leaseId: null, logBase: 0
  } as JobRecord
}

describe('a workspace home saved by its provider', () => {
  it('reaches the client as a typed `home-saved` message', async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const providerKey = await generateKeyPair('Ed25519')
    const client = peerIdFromPrivateKey(clientKey).toString()
    const provider = peerIdFromPrivateKey(providerKey).toString()
    const t = Date.now()
    const payload = encodeReceipt({
      version: 1, jobId: JOB, leaseId: 'lease', specCid: CID.parse(SPEC), provider, client, state: 'success', exitCode: 0, reason: null,
      times: { acceptedAt: t, preparingAt: t + 1, runningAt: t + 2, exitedAt: t + 3, uploadedAt: t + 4 }, preparingMs: 1, runMs: 1,
      usage: { cpuSeconds: 0, peakMemoryBytes: 0, gpuSeconds: 0 }, pricePerHour: 0.1, cost: 0, outputCid: null, outputBytes: 0, logsCid: null
    })
    const signed = { payload, signature: await signRecord(providerKey, RECEIPT_SIGNING_DOMAIN, payload) }
    const homes: string[] = []
    const job = record()
    await runJob({
      self: client,
      privateKey: clientKey,
      open: async () => {
        const [ours, theirs] = localChannelPair(client, provider)
        void (async () => {
          await theirs.read()
          await theirs.send(encodeJobMessage({ type: 'accepted', jobId: JOB, leaseId: 'lease', pricePerHour: 0.1, gpus: [] }))
          await theirs.send(encodeJobMessage({ type: 'home-saved', home: HOME, bytes: 10, at: t }))
          await theirs.send(encodeJobMessage({ type: 'finished', receipt: signed }))
        })()
        return ours
      },
      candidates: () => ({ providers: [{ peerId: provider, costPerHour: 0.1 }], why: '', busy: false }),
      specBytes: async () => new Uint8Array([0xa0]),
      save: async () => {},
      collect: async () => {},
      homeSaved: async (r, home) => { homes.push(`${r.jobId} ${home.toString()}`) },
      log: pino({ level: 'silent' })
    }, job, { stop: new AbortController().signal, shutdown: new AbortController().signal, onChannel: () => {} })
    expect(homes).toEqual([`${JOB} ${HOME.toString()}`])
  })

  it('is still read from the log line of providers that do not send the message', () => {
    const at = { seq: 1, at: 1 }
    expect(homeSavedInLine({ ...at, stream: 'system', line: `${HOME_SAVED} ${HOME.toString()} (10 bytes)` })?.equals(HOME)).toBe(true)
    // a job prints what it likes, but only on stdout/stderr
    expect(homeSavedInLine({ ...at, stream: 'stdout', line: `${HOME_SAVED} ${HOME.toString()} (10 bytes)` })).toBeUndefined()
    expect(homeSavedInLine({ ...at, stream: 'system', line: `${HOME_SAVED} nonsense` })).toBeUndefined()
  })

  it('is pinned and fetched here, the previous save let go', async () => {
    const pins = { add: vi.fn(async () => {}), remove: vi.fn(async () => {}) }
    const requireDag = vi.fn(async (_root: CID, _options?: unknown) => ({ via: 'bulk' as const, blocks: 1, bytes: 10, ms: 1 }))
    const previous = CID.parse(SPEC)
    homeKeeper({ pins: pins as unknown as PinSet, guard: gcGuard(), requireDag, blocksPath: process.cwd(), log: pino({ level: 'silent' }) }).keep('me/default/1', HOME, previous)
    await vi.waitFor(() => { expect(requireDag).toHaveBeenCalled() })
    expect(pins.add).toHaveBeenCalledWith(HOME, 'workspace-home:me/default/1')
    expect(pins.remove).toHaveBeenCalledWith(previous, 'workspace-home:me/default/1')
    expect(requireDag.mock.calls[0]?.[0]).toBe(HOME)
  })
})
