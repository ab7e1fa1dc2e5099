import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeReceipt, RECEIPT_CLOCK_SKEW_MS, RECEIPT_KILL_GRACE_MS, RECEIPT_SIGNING_DOMAIN, type Receipt, type SignedReceipt } from '../../../../protocol/jobs/receipt.js'
import { checkReceipt, type ReceiptDeal } from '../../../../daemon/jobs/receipt-check.js'
import { LIMIT_GRACE_MS, STOP_GRACE_MS } from '../../../../daemon/provider/executor.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'

const SPEC = 'bafyreif2gi3tsque7bckt66upkb4zdrbuqozpu66ns67dsmlt6mtrhh7pi'
const OUTPUT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const JOB = 'ab'.repeat(16)
const T0 = 1_700_000_000_000

let providerKey: PrivateKey
let malloryKey: PrivateKey
let provider: string
let client: string

beforeAll(async () => {
  providerKey = await generateKeyPair('Ed25519')
  malloryKey = await generateKeyPair('Ed25519')
  provider = peerIdFromPrivateKey(providerKey).toString()
  client = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})

/** An honest receipt for a 2 s run at 0.06/h, as the provider computes it. */
function honest (overrides: Partial<Receipt> = {}): Receipt {
  const runMs = 2_000
  return {
    version: 1, jobId: JOB, leaseId: 'lease-1', specCid: CID.parse(SPEC), provider, client, state: 'success', exitCode: 0, reason: null,
    times: { acceptedAt: T0, preparingAt: T0 + 100, runningAt: T0 + 500, exitedAt: T0 + 500 + runMs, uploadedAt: T0 + 3_000 },
    preparingMs: 400, runMs,
    usage: { cpuSeconds: 0.1, peakMemoryBytes: 1024, gpuSeconds: 0 },
    pricePerHour: 0.06, cost: Math.round(0.06 * runMs / 3_600_000 * 1e6) / 1e6,
    outputCid: CID.parse(OUTPUT), outputBytes: 10, logsCid: null,
    ...overrides
  }
}

function deal (overrides: Partial<ReceiptDeal> = {}): ReceiptDeal {
  return { client, provider, jobId: JOB, leaseId: 'lease-1', specCid: SPEC, acceptedPricePerHour: 0.06, maxPricePerHour: 0.1, timeoutSeconds: 60, acceptedAt: T0 + 20, now: T0 + 4_000, ...overrides }
}

async function sign (receipt: Receipt, key = providerKey): Promise<SignedReceipt> {
  const payload = encodeReceipt(receipt)
  return { payload, signature: await signRecord(key, RECEIPT_SIGNING_DOMAIN, payload) }
}

async function refusal (receipt: Receipt, d: Partial<ReceiptDeal> = {}, key?: PrivateKey): Promise<{ refusal: string, message: string }> {
  const check = await checkReceipt(await sign(receipt, key), deal(d))
  if (check.ok) throw new Error('the receipt was accepted')
  return { refusal: check.refusal, message: check.message }
}

describe('checking a receipt against the deal', () => {
  it('accepts an honest receipt, and one whose cost is off by the provider\'s rounding only', async () => {
    expect((await checkReceipt(await sign(honest()), deal())).ok).toBe(true)
    // 0.06/h × 1 ms = 1.67e-8: rounded to a millionth it is 0
    expect((await checkReceipt(await sign(honest({ times: { ...honest().times, exitedAt: T0 + 501 }, runMs: 1, cost: 0 })), deal())).ok).toBe(true)
    // a job that never ran (engine stamps 0): no time, no cost
    expect((await checkReceipt(await sign(honest({ state: 'failed', exitCode: null, reason: 'image missing', times: { acceptedAt: T0, preparingAt: T0 + 1, runningAt: 0, exitedAt: 0, uploadedAt: T0 + 5 }, runMs: 0, cost: 0, outputCid: null })), deal())).ok).toBe(true)
  })

  it('the attack: price 999/h and cost 1,000,000 for a 2 s job is refused for its price', async () => {
    expect(await refusal(honest({ pricePerHour: 999, cost: 1_000_000 }))).toEqual({ refusal: 'price', message: 'its price 999/h is not the 0.06/h the provider accepted the job at' })
  })

  it('refuses what does not decode (invalid)', async () => {
    const check = await checkReceipt({ payload: new Uint8Array([0xa1, 0x61, 0x78, 0x01]), signature: new Uint8Array(64) }, deal())
    expect(check).toMatchObject({ ok: false, refusal: 'invalid', receipt: null })
  })

  it('refuses a receipt naming another provider (provider)', async () => {
    const mallory = peerIdFromPrivateKey(malloryKey).toString()
    expect(await refusal(honest({ provider: mallory }), {}, malloryKey)).toEqual({ refusal: 'provider', message: `it names provider ${mallory}, but the job went to ${provider}` })
  })

  it('refuses a receipt not signed by the job\'s provider (signature)', async () => {
    expect(await refusal(honest(), {}, malloryKey)).toEqual({ refusal: 'signature', message: `it is not signed by provider ${provider}` })
  })

  it('refuses a receipt for another job, lease, spec or client (job)', async () => {
    expect((await refusal(honest({ jobId: 'cd'.repeat(16) }))).refusal).toBe('job')
    expect(await refusal(honest({ leaseId: 'lease-0' }))).toEqual({ refusal: 'job', message: 'it is for another job: lease lease-0, not lease-1' })
    expect((await refusal(honest({ specCid: CID.parse(OUTPUT) }))).message).toContain(`spec ${OUTPUT}, not ${SPEC}`)
    expect((await refusal(honest({ client: provider }))).message).toContain(`client ${provider}, not ${client}`)
  })

  it('refuses times out of order, far from the acceptance, in the future, or half a run (times)', async () => {
    const t = honest().times
    expect(await refusal(honest({ times: { ...t, runningAt: T0 + 50 } }))).toEqual({ refusal: 'times', message: `its times are out of order: runningAt ${T0 + 50} is before preparingAt ${T0 + 100}` })
    expect((await refusal(honest({ times: { ...t, exitedAt: null } }))).message).toBe('it has a start but no exit of the container')
    const early = T0 - RECEIPT_CLOCK_SKEW_MS - 60_000
    expect((await refusal(honest({ times: { acceptedAt: early, preparingAt: early, runningAt: t.runningAt, exitedAt: t.exitedAt, uploadedAt: t.uploadedAt } }))).message).toMatch(/accepted at .*clock skew/)
    expect((await refusal(honest(), { now: T0 + 3_000 - RECEIPT_CLOCK_SKEW_MS - 1 }))).toMatchObject({ refusal: 'times', message: expect.stringContaining('dated in the future') })
  })

  it('refuses a running time that is not runningAt→exitedAt, or beyond the limit and the kill grace (running-time)', async () => {
    expect(await refusal(honest({ runMs: 3_600_000, cost: 0.06 }))).toEqual({ refusal: 'running-time', message: 'it states 3600000 ms of running time, but runningAt→exitedAt is 2000 ms' })
    const long = 60_000 + RECEIPT_KILL_GRACE_MS + 1
    const t = honest().times
    const over = honest({ times: { ...t, exitedAt: (t.runningAt as number) + long, uploadedAt: (t.runningAt as number) + long }, runMs: long, cost: Math.round(0.06 * long / 3_600_000 * 1e6) / 1e6 })
    expect((await refusal(over, { now: T0 + 200_000 })).refusal).toBe('running-time')
    // within the grace it counts
    const within = 60_000 + RECEIPT_KILL_GRACE_MS
    const graced = honest({ state: 'timeout', times: { ...t, exitedAt: (t.runningAt as number) + within, uploadedAt: (t.runningAt as number) + within }, runMs: within, cost: Math.round(0.06 * within / 3_600_000 * 1e6) / 1e6 })
    expect((await checkReceipt(await sign(graced), deal({ now: T0 + 200_000 }))).ok).toBe(true)
  })

  it('the kill grace covers the provider\'s longest stop grace', () => {
    expect(RECEIPT_KILL_GRACE_MS).toBeGreaterThanOrEqual(Math.max(STOP_GRACE_MS, LIMIT_GRACE_MS))
  })

  it('refuses a price other than the accepted one, or above the client\'s maximum (price)', async () => {
    expect((await refusal(honest({ pricePerHour: 0.05, cost: Math.round(0.05 * 2_000 / 3_600_000 * 1e6) / 1e6 }))).refusal).toBe('price')
    expect(await refusal(honest(), { acceptedPricePerHour: 0.06, maxPricePerHour: 0.05 })).toEqual({ refusal: 'price', message: 'its price 0.06/h is above the 0.05/h this client accepts' })
  })

  it('refuses a cost that is not price × time beyond rounding (cost)', async () => {
    expect(await refusal(honest({ cost: 1_000_000 }))).toEqual({ refusal: 'cost', message: 'cost 1000000 is not price × time (0.06/h × 2000 ms = 0.000033)' })
    expect((await refusal(honest({ cost: 0.000036 }))).refusal).toBe('cost')
  })

  it('refuses a state that does not agree with the exit code and the run (state)', async () => {
    expect(await refusal(honest({ exitCode: 3 }))).toEqual({ refusal: 'state', message: 'it says success with exit code 3' })
    expect((await refusal(honest({ outputCid: null }))).message).toBe('it says success with no output')
    const never = { times: { acceptedAt: T0, preparingAt: T0 + 1, runningAt: null, exitedAt: null, uploadedAt: T0 + 5 }, runMs: 0, cost: 0 }
    expect((await refusal(honest({ ...never, state: 'failed', exitCode: 1 }))).message).toBe('it gives exit code 1 for a container that never ran')
    expect((await refusal(honest({ ...never, state: 'timeout', exitCode: null }))).refusal).toBe('state')
  })
})
