import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { ProviderSettings } from '../../../../protocol/market/settings.js'
import { encodeJobSpec, specCid, type JobSpec } from '../../../../protocol/jobs/spec.js'
import { encodeJobRequest, JOB_REQUEST_SIGNING_DOMAIN, type JobRequest } from '../../../../protocol/jobs/wire.js'
import { admitJob, type AdmissionContext } from '../../../../daemon/provider/admission.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { sampleOffer } from '../../../helpers/offers.js'

const NOW = 1_800_000_000_000
const CODE = CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')

async function peer (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

const spec = (overrides: Partial<JobSpec> = {}): JobSpec => ({
  version: 1,
  code: CODE,
  inputs: [],
  environment: 'busybox',
  command: ['true'],
  resources: { cpus: 1, memoryBytes: 1024 ** 3, gpus: 0 },
  timeoutSeconds: 3600,
  network: false,
  ...overrides
})

async function signedRequest (client: { key: PrivateKey, id: string }, provider: string, overrides: Partial<JobRequest> = {}, jobSpec = spec()): Promise<{ bytes: Uint8Array, signature: Uint8Array }> {
  const specBytes = encodeJobSpec(jobSpec)
  const bytes = encodeJobRequest({
    version: 1,
    jobId: 'ab'.repeat(16),
    client: client.id,
    provider,
    spec: specBytes,
    specCid: await specCid(specBytes),
    maxPricePerHour: 1,
    issuedAt: NOW,
    ...overrides
  })
  return { bytes, signature: await signRecord(client.key, JOB_REQUEST_SIGNING_DOMAIN, bytes) }
}

function context (self: string, remotePeer: string, overrides: Partial<AdmissionContext> = {}): AdmissionContext {
  return {
    self,
    remotePeer,
    settings: ProviderSettings.parse({ enabled: true }),
    offer: sampleOffer(self, NOW, { cpu: { model: 'x', shared: 4, free: 2 }, prices: { perCpuHour: 0.1, perGiBHour: 0.02, perGpuHour: {} } }),
    environments: new Map([['busybox', 'floe/busybox:latest']]),
    known: () => false,
    now: NOW,
    ...overrides
  }
}

describe('job admission', () => {
  it('accepts a genuine request at its price for the shape', async () => {
    const [provider, client] = [await peer(), await peer()]
    const { bytes, signature } = await signedRequest(client, provider.id)
    const result = await admitJob(bytes, signature, context(provider.id, client.id))
    expect(result).toMatchObject({ accepted: true, pricePerHour: 0.12, gpus: [], image: 'floe/busybox:latest' })
  })

  it('refuses forged, misdirected, replayed and stale requests as invalid', async () => {
    const [provider, client, mallory] = [await peer(), await peer(), await peer()]
    const genuine = await signedRequest(client, provider.id)
    // signed by another key
    const forged = { bytes: genuine.bytes, signature: await signRecord(mallory.key, JOB_REQUEST_SIGNING_DOMAIN, genuine.bytes) }
    expect(await admitJob(forged.bytes, forged.signature, context(provider.id, client.id))).toMatchObject({ accepted: false, reason: 'invalid', message: 'the request is not signed by its client' })
    // relayed by someone else
    expect(await admitJob(genuine.bytes, genuine.signature, context(provider.id, mallory.id))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/came from/) })
    // meant for another provider
    expect(await admitJob(genuine.bytes, genuine.signature, context(mallory.id, client.id))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/meant for provider/) })
    // replayed
    expect(await admitJob(genuine.bytes, genuine.signature, context(provider.id, client.id, { known: () => true }))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/already submitted/) })
    // old
    expect(await admitJob(genuine.bytes, genuine.signature, context(provider.id, client.id, { now: NOW + 3_600_000 }))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/dated too far/) })
    // a spec that is not the one the CID names
    const wrongCid = await signedRequest(client, provider.id, { specCid: CODE })
    expect(await admitJob(wrongCid.bytes, wrongCid.signature, context(provider.id, client.id))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/spec's CID/) })
    // garbage
    expect(await admitJob(new Uint8Array([1, 2, 3]), new Uint8Array(64), context(provider.id, client.id))).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/does not decode/) })
  })

  it('says why it will not take a job: not allowed, too big, environment missing, busy, price', async () => {
    const [provider, client] = [await peer(), await peer()]
    const ask = async (jobSpec: JobSpec, overrides: Partial<AdmissionContext> = {}, request: Partial<JobRequest> = {}): Promise<unknown> => {
      const { bytes, signature } = await signedRequest(client, provider.id, request, jobSpec)
      return await admitJob(bytes, signature, context(provider.id, client.id, overrides))
    }
    const settings = ProviderSettings.parse({ enabled: true })
    expect(await ask(spec(), { settings: { ...settings, enabled: false } })).toMatchObject({ reason: 'not-allowed', message: 'provider mode is off on this node' })
    expect(await ask(spec(), { settings: { ...settings, deny: [client.id] } })).toMatchObject({ reason: 'not-allowed' })
    expect(await ask(spec(), { settings: { ...settings, allow: [provider.id] } })).toMatchObject({ reason: 'not-allowed' })
    expect(await ask(spec({ network: true }))).toMatchObject({ reason: 'not-allowed', message: 'jobs may not use the network here' })
    expect(await ask(spec({ resources: { cpus: 8, memoryBytes: 1024 ** 3, gpus: 0 } }))).toMatchObject({ reason: 'too-big', message: '8 CPUs asked, 4 shared' })
    expect(await ask(spec({ timeoutSeconds: 200_000 }))).toMatchObject({ reason: 'too-big' })
    expect(await ask(spec({ environment: 'pytorch' }))).toMatchObject({ reason: 'environment-missing', message: 'environment "pytorch" is not held here' })
    expect(await ask(spec({ resources: { cpus: 3, memoryBytes: 1024 ** 3, gpus: 0 } }))).toMatchObject({ reason: 'busy', message: 'needs 3 CPUs, 2 free' })
    expect(await ask(spec(), {}, { maxPricePerHour: 0.05 })).toMatchObject({ reason: 'price', message: 'this job costs 0.1200/h here, above the 0.0500/h the client accepts' })
  })
})
