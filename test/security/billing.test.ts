import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import type { P2pServices } from '../../daemon/p2p/host.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { costFor } from '../../protocol/billing/credits.js'
import { encodeStatement, USAGE_SIGNING_DOMAIN, type UsageStatement } from '../../protocol/billing/metering.js'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt } from '../../protocol/jobs/receipt.js'
import { decodeClientMessage } from '../../protocol/jobs/wire.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { hostileClient } from '../helpers/hostile-client.js'
import { JOB_PROTOCOL_V1_1 } from '../../protocol/ids.js'
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

/**
 * A modified provider on /floe/job/1.2.0: a normal acceptance, then a signed usage statement
 * that `tamper` rewrites (overcharging), then — once the client stops the job — a receipt.
 * Everything it sends is signed with its own key: only the deal can catch it.
 */
async function overchargingProvider (key: PrivateKey, tamper: (honest: UsageStatement) => UsageStatement): Promise<Libp2p<P2pServices>> {
  const seen: string[][] = []
  const node = await hostileProviderNode(key, async ({ channel, request, self, send }) => {
    const acceptedAt = Date.now()
    await send({ type: 'accepted', jobId: request.jobId, leaseId: 'lease-1', pricePerHour: ACCEPTED, gpus: [] })
    const runningAt = acceptedAt + 20
    await send({ type: 'state', state: 'running', at: runningAt })
    await new Promise(resolve => setTimeout(resolve, 1_200))
    const honest: UsageStatement = {
      version: 1, jobId: request.jobId, leaseId: 'lease-1', provider: self, client: request.client, seq: 1, intervalMs: 1000,
      runningMs: 1000, cpuSeconds: 1, memoryGiBSeconds: 1, gpuSeconds: 0, pricePerHour: ACCEPTED, cost: costFor(ACCEPTED, 1000), at: Date.now()
    }
    const payload = encodeStatement(tamper(honest))
    await send({ type: 'usage', statement: { payload, signature: await signRecord(key, USAGE_SIGNING_DOMAIN, payload) } })
    // the client answers with a cancel, not a voucher
    const heard: string[] = []
    while (!heard.includes('cancel')) {
      const bytes = await channel.read({ signal: AbortSignal.timeout(10_000) })
      if (bytes == null) break
      heard.push(decodeClientMessage(bytes).type)
    }
    const exitedAt = Date.now()
    const receipt: Receipt = {
      version: 1, jobId: request.jobId, leaseId: 'lease-1', specCid: request.specCid, provider: self, client: request.client,
      state: 'stopped', exitCode: 137, reason: 'stopped by the client',
      times: { acceptedAt, preparingAt: acceptedAt + 10, runningAt, exitedAt, uploadedAt: exitedAt + 10 },
      preparingMs: 10, runMs: exitedAt - runningAt, usage: { cpuSeconds: 1, peakMemoryBytes: 1024, gpuSeconds: 0 },
      pricePerHour: ACCEPTED, cost: Math.round(ACCEPTED * (exitedAt - runningAt) / 3_600_000 * 1e6) / 1e6,
      outputCid: null, outputBytes: 0, logsCid: null
    }
    const signed = encodeReceipt(receipt)
    await send({ type: 'finished', receipt: { payload: signed, signature: await signRecord(key, RECEIPT_SIGNING_DOMAIN, signed) } })
    heard.push(...(await (async () => { const more: string[] = []; let b; while ((b = await channel.read({ signal: AbortSignal.timeout(5_000) }).catch(() => null)) != null) more.push(decodeClientMessage(b).type); return more })()))
    seen.push(heard)
  })
  ;(node as any).heard = seen
  return node
}


describe('usage statements are checked against the deal', () => {
  it.each([
    { attack: 'a cost a thousand times price × time', tamper: (h: UsageStatement): UsageStatement => ({ ...h, cost: h.cost * 1000 }), refusal: 'cost' },
    { attack: 'a price above the accepted one', tamper: (h: UsageStatement): UsageStatement => ({ ...h, pricePerHour: 6, cost: costFor(6, h.runningMs) }), refusal: 'price' },
    { attack: 'running time ahead of the clock', tamper: (h: UsageStatement): UsageStatement => ({ ...h, runningMs: 3_600_000, cost: costFor(ACCEPTED, 3_600_000) }), refusal: 'time' }
  ])('refuses an overcharging provider ($attack): no voucher, the job stops, a dispute entry holds both documents, the provider\'s reliability falls', async ({ tamper, refusal }) => {
    const providerKey = await generateKeyPair('Ed25519')
    provider = await overchargingProvider(providerKey, tamper)
    const peerId = provider.peerId.toString()
    const client = r.daemon(await startDaemon(r.folder(await tempHome())))
    expect((await floe(['connect', '--home', client.home, provider.getMultiaddrs()[0]?.toString() ?? ''])).code).toBe(0)
    await offerTo(provider, providerKey, client.home)

    const code = r.folder(await tempHome('floe-code-'))
    const run = await floe(['run', '--home', client.home, '--path', code, '--max-price', '0.1', '--json', '--', 'sleep', '60'])
    expect(run.code, run.stderr).toBe(0)
    const submitted = JSON.parse(run.stdout)
    await expect.poll(async () => (await floeJson(['status', submitted.ref, '--home', client.home])).state, { timeout: 30_000, interval: 300 }).toBe('stopped')
    const job = await floeJson(['status', submitted.ref, '--home', client.home])
    expect(job.reason).toMatch(/^stopped: the provider's usage statement was refused/)
    expect(job.dispute).toMatchObject({ provider: peerId, refusal: `statement-${refusal}` })
    // no voucher answered the statement: the client sent a cancel, and its final voucher promises nothing
    const heard = (provider as any).heard.flat() as string[]
    expect(heard.slice(0, heard.indexOf('cancel') + 1)).not.toContain('voucher')
    const spend = await floeJson(['billing', '--home', client.home])
    expect(spend.jobs.find((j: any) => j.jobId === job.jobId)?.credits ?? 0).toBe(0)
    expect(spend.balances.find((b: any) => b.peer === peerId)?.refused).toBeGreaterThanOrEqual(1)
    // in the project log, with the signed statement as evidence
    const log = await floeJson(['log', '--project', job.project, '--home', client.home])
    expect(log.entries.map((e: any) => e.summary).join('\n')).toMatch(new RegExp(`billing dispute with ${peerId} \\(statement ${refusal}\\)`))
    expect(client.output()).toMatch(/usage statement refused/)
    const ranking = JSON.parse((await floe(['run', '--dry-run', '--home', client.home, '--path', code, '--max-price', '0.1', '--json', '--', 'true'])).stdout)
    expect(ranking.ranked.find((o: any) => o.peerId === peerId)?.reliability).toBe(0)
  })
})

describe('no job runs unmetered for another peer', () => {
  it('a client speaking /floe/job/1.1.0 (no vouchers) is refused, naming the metered protocol', async () => {
    const provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const id = await floeJson(['id', '--home', provider.home])
    const client = await hostileClient({ peerId: id.peerId, address: id.addresses[0] })
    try {
      const code = await client.putRaw(new TextEncoder().encode('echo free compute\n'))
      const { messages } = await client.submit({ code, command: ['sh', '-c', 'echo free compute'] }, { protocol: JOB_PROTOCOL_V1_1, timeoutMs: 15_000 })
      expect(messages).toEqual([{ type: 'refused', reason: 'invalid', message: expect.stringMatching(/bills by metered usage \(\/floe\/job\/1\.2\.0\); \/floe\/job\/1\.1\.0 carries no vouchers/) }])
      expect((await floeJson(['provider', 'jobs', '--home', provider.home])).jobs).toEqual([])
    } finally {
      await client.stop()
    }
  })
})
