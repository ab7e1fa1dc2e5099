import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import type { P2pServices } from '../../daemon/p2p/host.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt } from '../../protocol/jobs/receipt.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { hostileProviderNode, offerTo } from '../helpers/hostile-provider.js'

const r = resources()
let provider: Libp2p<P2pServices> | undefined
afterEach(async () => {
  await r.cleanup()
  await provider?.stop()
  provider = undefined
})

/** the price the hostile provider accepts at: its offer's for 1 CPU and 1 GiB */
const ACCEPTED = 0.06
/** how long it says the job ran */
const RUN_MS = 2_000

/**
 * A modified provider speaking floe's own protocols: a normal signed offer on the offers
 * topic, a normal acceptance on /floe/job, then a receipt that `tamper` rewrites
 * (signed with its own key, so only the deal can catch it).
 */
async function hostileProvider (key: PrivateKey, tamper: (honest: Receipt) => Receipt): Promise<Libp2p<P2pServices>> {
  return await hostileProviderNode(key, async ({ channel, request, self, send }) => {
    const acceptedAt = Date.now()
    await send({ type: 'accepted', jobId: request.jobId, leaseId: 'lease-1', pricePerHour: ACCEPTED, gpus: [] })
    await send({ type: 'state', state: 'running', at: acceptedAt + 20 })
    await send({ type: 'lines', lines: [{ seq: 1, at: acceptedAt + 30, stream: 'stdout', line: 'working' }] })
    await new Promise(resolve => setTimeout(resolve, RUN_MS + 100))
    const runningAt = acceptedAt + 20
    const honest: Receipt = {
      version: 1, jobId: request.jobId, leaseId: 'lease-1', specCid: request.specCid, provider: self, client: request.client,
      state: 'failed', exitCode: 1, reason: 'exit code 1',
      times: { acceptedAt, preparingAt: acceptedAt + 10, runningAt, exitedAt: runningAt + RUN_MS, uploadedAt: runningAt + RUN_MS + 50 },
      preparingMs: 10, runMs: RUN_MS, usage: { cpuSeconds: 1, peakMemoryBytes: 1024, gpuSeconds: 0 },
      pricePerHour: ACCEPTED, cost: Math.round(ACCEPTED * RUN_MS / 3_600_000 * 1e6) / 1e6,
      outputCid: null, outputBytes: 0, logsCid: null
    }
    const payload = encodeReceipt(tamper(honest))
    await send({ type: 'finished', receipt: { payload, signature: await signRecord(key, RECEIPT_SIGNING_DOMAIN, payload) } })
    // the client closes once it has the receipt
    while (await channel.read({ signal: AbortSignal.timeout(10_000) }).catch(() => null) != null);
  })
}

describe('receipts are checked against the deal', () => {
  it.each([
    {
      attack: 'price 999/h and cost 1,000,000 for a 2 s job',
      tamper: (h: Receipt): Receipt => ({ ...h, pricePerHour: 999, cost: 1_000_000 }),
      refusal: 'price',
      reason: `receipt refused: its price 999/h is not the ${ACCEPTED}/h the provider accepted the job at`
    },
    {
      attack: 'the accepted price, but a cost of 1,000,000 for a 2 s job',
      tamper: (h: Receipt): Receipt => ({ ...h, cost: 1_000_000 }),
      refusal: 'cost',
      reason: `receipt refused: cost 1000000 is not price × time (${ACCEPTED}/h × ${RUN_MS} ms = 0.000033)`
    }
  ])('refuses a receipt with $attack: the job fails with the reason, a dispute is kept, the cost is not recorded, the provider\'s reliability falls', async ({ tamper, refusal, reason }) => {
    const providerKey = await generateKeyPair('Ed25519')
    provider = await hostileProvider(providerKey, tamper)
    const peerId = provider.peerId.toString()
    const client = r.daemon(await startDaemon(r.folder(await tempHome())))
    const connected = await floe(['connect', '--home', client.home, provider.getMultiaddrs()[0]?.toString() ?? ''])
    expect(connected.code, connected.stderr).toBe(0)
    await offerTo(provider, providerKey, client.home)

    const code = r.folder(await tempHome('floe-code-'))
    const run = await floe(['run', '--home', client.home, '--path', code, '--max-price', '0.1', '--json', '--', 'true'])
    expect(run.code, run.stderr).toBe(0)
    const submitted = JSON.parse(run.stdout)
    await expect.poll(async () => (await floeJson(['status', submitted.ref, '--home', client.home])).state, { timeout: 30_000, interval: 300 }).toBe('failed')

    const job = await floeJson(['status', submitted.ref, '--home', client.home])
    expect(job).toMatchObject({ state: 'failed', reason, provider: peerId, pricePerHour: ACCEPTED, receipt: null, exitCode: null })
    expect(job.dispute).toMatchObject({ provider: peerId, refusal, message: reason.slice('receipt refused: '.length), claimed: { cost: 1_000_000, jobId: job.jobId } })
    // the recorded cost: none (the listing's COST column too)
    expect(job.receipt?.cost).toBeUndefined()
    const listed = await floe(['status', '--home', client.home, '--all'])
    expect(listed.stdout).not.toMatch(/1000000/)
    const shown = await floe(['status', submitted.ref, '--home', client.home])
    expect(shown.stdout).toContain(`dispute      `)
    expect(shown.stdout).toContain(`receipt of ${peerId} refused (${refusal})`)
    // in the daemon's log
    expect(client.output()).toMatch(/receipt refused; dispute recorded/)
    // and against the provider: 0 of 1 jobs carried to an accepted end
    const ranking = JSON.parse((await floe(['run', '--dry-run', '--home', client.home, '--path', code, '--max-price', '0.1', '--json', '--', 'true'])).stdout)
    expect(ranking.ranked.find((o: any) => o.peerId === peerId)?.reliability).toBe(0)
  })
})
