import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { p2pHostOptions, type P2pServices } from '../../daemon/p2p/host.js'
import { streamChannel, type MessageChannel } from '../../daemon/p2p/message-channel.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { signOffer } from '../../daemon/market/offer-signing.js'
import { costFor } from '../../protocol/billing/credits.js'
import { encodeStatement, USAGE_SIGNING_DOMAIN, type UsageStatement } from '../../protocol/billing/metering.js'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt } from '../../protocol/jobs/receipt.js'
import { decodeClientMessage, decodeJobRequest, encodeJobMessage, JOB_PROTOCOL, MAX_JOB_MESSAGE_BYTES, type ProviderMessage } from '../../protocol/jobs/wire.js'
import { OFFER_TOPIC } from '../../protocol/market/offer.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { sampleOffer } from '../helpers/offers.js'

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
  const node = await createLibp2p(p2pHostOptions({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
  const self = node.peerId.toString()
  node.services.pubsub.subscribe(OFFER_TOPIC)
  const serve = async (channel: MessageChannel): Promise<void> => {
    const first = decodeClientMessage(await channel.read({ signal: AbortSignal.timeout(10_000) }) as Uint8Array)
    if (first.type !== 'submit') throw new Error(`unexpected ${first.type}`)
    const request = decodeJobRequest(first.request)
    const send = async (m: ProviderMessage): Promise<void> => { await channel.send(encodeJobMessage(m)) }
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
  }
  const seen: string[][] = []
  ;(node as any).heard = seen
  await node.handle(JOB_PROTOCOL, (stream, connection) => {
    const channel = streamChannel(stream, connection.remotePeer.toString(), MAX_JOB_MESSAGE_BYTES)
    serve(channel).catch((err: Error) => { channel.abort(err) })
  })
  return node
}

async function offerTo (node: Libp2p<P2pServices>, key: PrivateKey, home: string): Promise<void> {
  const peerId = node.peerId.toString()
  const addrs = node.getMultiaddrs().map(a => a.toString())
  await expect.poll(async () => {
    const now = Date.now()
    await node.services.pubsub.publish(OFFER_TOPIC, await signOffer(key, sampleOffer(peerId, now, { addrs, seq: now })))
    return (await floeJson(['providers', '--home', home])).providers.map((p: any) => p.offer.peerId)
  }, { timeout: 20_000, interval: 500 }).toContain(peerId)
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
