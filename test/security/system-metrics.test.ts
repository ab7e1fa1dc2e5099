import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import type { P2pServices } from '../../daemon/p2p/host.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt } from '../../protocol/jobs/receipt.js'
import { MAX_SYSTEM_SAMPLES_PER_JOB, MAX_SYSTEM_SAMPLES_PER_MESSAGE, type SystemSample } from '../../protocol/jobs/system-metrics.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { hostileProviderNode, offerTo } from '../helpers/hostile-provider.js'

const r = resources()
let provider: Libp2p<P2pServices> | undefined
afterAll(async () => {
  await r.cleanup()
  await provider?.stop()
})

const ACCEPTED = 0.06
const RUN_MS = 2_000
/** spaced a second apart, more than a job keeps */
const SPACED = MAX_SYSTEM_SAMPLES_PER_JOB + 6_000
/** then a flood a millisecond apart */
const FLOOD = 16_000

describe('system samples from a hostile provider', () => {
  it(`are bounded: ${SPACED} a second apart and ${FLOOD} a millisecond apart leave at most ${MAX_SYSTEM_SAMPLES_PER_JOB}, with a warning; the job ends as its receipt says`, async () => {
    const key = await generateKeyPair('Ed25519')
    provider = await hostileProviderNode(key, async ({ channel, request, self, send }) => {
      const acceptedAt = Date.now()
      await send({ type: 'accepted', jobId: request.jobId, leaseId: 'lease-1', pricePerHour: ACCEPTED, gpus: [] })
      await send({ type: 'state', state: 'running', at: acceptedAt + 20 })
      const sample = (at: number): SystemSample => ({ at, cpuPercent: 100, memoryBytes: 2 ** 40, diskBytes: 2 ** 40 })
      const all = [
        ...Array.from({ length: SPACED }, (_, i) => sample(acceptedAt - (SPACED + 60) * 1000 + i * 1000)),
        ...Array.from({ length: FLOOD }, (_, i) => sample(acceptedAt - 50_000 + i))
      ]
      for (let i = 0; i < all.length; i += MAX_SYSTEM_SAMPLES_PER_MESSAGE) await send({ type: 'system', samples: all.slice(i, i + MAX_SYSTEM_SAMPLES_PER_MESSAGE) })
      await new Promise(resolve => setTimeout(resolve, Math.max(0, acceptedAt + RUN_MS + 100 - Date.now())))
      const runningAt = acceptedAt + 20
      const receipt: Receipt = {
        version: 1, jobId: request.jobId, leaseId: 'lease-1', specCid: request.specCid, provider: self, client: request.client,
        state: 'failed', exitCode: 1, reason: 'exit code 1',
        times: { acceptedAt, preparingAt: acceptedAt + 10, runningAt, exitedAt: runningAt + RUN_MS, uploadedAt: runningAt + RUN_MS + 50 },
        preparingMs: 10, runMs: RUN_MS, usage: { cpuSeconds: 1, peakMemoryBytes: 1024, gpuSeconds: 0 },
        pricePerHour: ACCEPTED, cost: Math.round(ACCEPTED * RUN_MS / 3_600_000 * 1e6) / 1e6,
        outputCid: null, outputBytes: 0, logsCid: null
      }
      const payload = encodeReceipt(receipt)
      await send({ type: 'finished', receipt: { payload, signature: await signRecord(key, RECEIPT_SIGNING_DOMAIN, payload) } })
      while (await channel.read({ signal: AbortSignal.timeout(10_000) }).catch(() => null) != null);
    })
    const client = r.daemon(await startDaemon(r.folder(await tempHome())))
    const connected = await floe(['connect', '--home', client.home, provider.getMultiaddrs()[0]?.toString() ?? ''])
    expect(connected.code, connected.stderr).toBe(0)
    await offerTo(provider, key, client.home)

    const code = r.folder(await tempHome('floe-code-'))
    const run = await floe(['run', '--home', client.home, '--path', code, '--max-price', '0.1', '--json', '--', 'true'])
    expect(run.code, run.stderr).toBe(0)
    const submitted = JSON.parse(run.stdout)
    // (the listing: a job's own status would fetch its samples at each poll)
    await expect.poll(async () => ['success', 'failed', 'lost', 'stopped'].includes((await floeJson(['status', '--all', '--home', client.home])).find((j: any) => j.ref === submitted.ref)?.state), { timeout: 60_000, interval: 300 }).toBe(true)
    const job = await floeJson(['status', submitted.ref, '--home', client.home])
    // the job's own end, untouched by what the samples were
    expect({ state: job.state, reason: job.reason }).toEqual({ state: 'failed', reason: 'exit code 1' })
    const series = job.system.series as SystemSample[]
    expect(series.length).toBeGreaterThan(MAX_SYSTEM_SAMPLES_PER_JOB / 4)
    expect(series.length).toBeLessThanOrEqual(MAX_SYSTEM_SAMPLES_PER_JOB)
    for (let i = 1; i < series.length; i++) expect(series[i]!.at - series[i - 1]!.at).toBeGreaterThanOrEqual(900)
    expect(client.output()).toMatch(/system samples from the provider dropped .*or thinned/)
  }, 120_000)
})
