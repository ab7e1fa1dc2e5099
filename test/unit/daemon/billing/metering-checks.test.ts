import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { ClassicLevel } from 'classic-level'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { beforeAll, describe, expect, it } from 'vitest'
import { costFor, formatCredits, parseCredits } from '../../../../protocol/billing/credits.js'
import { encodeStatement, encodeVoucher, openVoucher, USAGE_SIGNING_DOMAIN, VOUCHER_SIGNING_DOMAIN, type SignedDoc, type UsageStatement, type Voucher } from '../../../../protocol/billing/metering.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { checkStatement, type StatementDeal } from '../../../../daemon/billing/statement-check.js'
import { checkVoucher, type VoucherDeal } from '../../../../daemon/billing/voucher-check.js'
import { billingLedger } from '../../../../daemon/billing/ledger.js'
import { clientMeter } from '../../../../daemon/billing/client-meter.js'

let providerKey: PrivateKey
let clientKey: PrivateKey
let otherKey: PrivateKey
let provider: string
let client: string
const jobId = 'a'.repeat(32)
const PRICE = 3.6 // credits per hour: 1 micro-credit per ms

beforeAll(async () => {
  providerKey = await generateKeyPair('Ed25519')
  clientKey = await generateKeyPair('Ed25519')
  otherKey = await generateKeyPair('Ed25519')
  provider = peerIdFromPrivateKey(providerKey).toString()
  client = peerIdFromPrivateKey(clientKey).toString()
})

const statement = (change: Partial<UsageStatement> = {}): UsageStatement => ({
  version: 1, jobId, leaseId: 'lease', provider, client, seq: 3, intervalMs: 1000, runningMs: 5000,
  cpuSeconds: 5, memoryGiBSeconds: 5, gpuSeconds: 0, pricePerHour: PRICE, cost: costFor(PRICE, 5000), at: 1, ...change
})
const signStatement = async (s: UsageStatement, key = providerKey) => { const payload = encodeStatement(s); return { payload, signature: await signRecord(key, USAGE_SIGNING_DOMAIN, payload) } }
const deal = (change: Partial<StatementDeal> = {}): StatementDeal => ({
  client, provider, jobId, leaseId: 'lease', acceptedPricePerHour: PRICE, acceptedAt: 10_000, now: 16_000, previous: { seq: 2, runningMs: 4000, heardAt: 15_000 }, ...change
})

const voucher = (change: Partial<Voucher> = {}): Voucher => ({ version: 1, jobId, leaseId: 'lease', provider, client, seq: 4, amount: 5000, statementSeq: 3, final: false, at: 1, ...change })
const signVoucher = async (v: Voucher, key = clientKey) => { const payload = encodeVoucher(v); return { payload, signature: await signRecord(key, VOUCHER_SIGNING_DOMAIN, payload) } }
const vdeal = (change: Partial<VoucherDeal> = {}): VoucherDeal => ({ provider, client, jobId, leaseId: 'lease', last: { seq: 3, amount: 4000 }, ...change })

describe('credits', () => {
  it('are whole micro-credits: parsed and printed as decimals, costs rounded half up without floats', () => {
    expect(parseCredits('50')).toBe(50_000_000)
    expect(parseCredits('0.000001')).toBe(1)
    expect(() => parseCredits('1e3')).toThrow(/not an amount of credits/)
    expect(() => parseCredits('0.0000001')).toThrow(/at most 6 places/)
    expect(formatCredits(12_500_000)).toBe('12.5')
    expect(formatCredits(33)).toBe('0.000033')
    // 0.06/h for 2 s: 33.33 µcr → 33
    expect(costFor(0.06, 2000)).toBe(33)
    // a thousand 1 ms steps sum to exactly what one second costs
    let sum = 0
    for (let i = 0; i < 1000; i++) sum += costFor(3.6, 1)
    expect(sum).toBe(costFor(3.6, 1000))
    // the biggest price for a year stays exact
    expect(costFor(1e9, 366 * 24 * 3600 * 1000)).toBe(1e9 * 1e6 * 366 * 24)
  })
})

describe('usage statements are checked against the deal', () => {
  it('takes an honest statement', async () => {
    const check = await checkStatement(await signStatement(statement()), deal())
    expect(check).toMatchObject({ ok: true, repeated: false })
  })
  it('knows the statement it took last, heard again (a provider sends its newest on a reattach), as already answered', async () => {
    // before: a follow stream cut under load and re-opened within one interval got the job stopped as a replay
    const again = await checkStatement(await signStatement(statement({ seq: 2, runningMs: 4000, cost: costFor(PRICE, 4000) })), deal())
    expect(again).toMatchObject({ ok: true, repeated: true })
    // the same seq claiming more time is still a replay
    const more = await checkStatement(await signStatement(statement({ seq: 2, runningMs: 4500, cost: costFor(PRICE, 4500) })), deal())
    expect(more).toMatchObject({ ok: false, refusal: 'replay' })
  })
  it.each([
    ['invalid', async () => ({ payload: new Uint8Array([1, 2, 3]), signature: new Uint8Array(64) }), () => deal(), /does not decode/],
    ['signature', async () => await signStatement(statement(), otherKey), () => deal(), /not signed by provider/],
    ['job', async () => await signStatement(statement({ jobId: 'b'.repeat(32) })), () => deal(), /did not give the provider: job b+/],
    ['replay', async () => await signStatement(statement({ seq: 2 })), () => deal(), /seq 2 is not past the last statement taken \(2\)/],
    ['price', async () => await signStatement(statement({ pricePerHour: 7.2, cost: costFor(7.2, 5000) })), () => deal(), /price 7.2\/h is not the 3.6\/h/],
    ['time', async () => await signStatement(statement({ runningMs: 60_000, cost: costFor(PRICE, 60_000) })), () => deal(), /only 6000 ms have passed since the job was accepted/],
    ['time', async () => await signStatement(statement({ runningMs: 3000, cost: costFor(PRICE, 3000) })), () => deal(), /less than the last statement's 4000 ms/],
    ['time', async () => await signStatement(statement({ runningMs: 9500, cost: costFor(PRICE, 9500) })), () => deal({ now: 16_500, acceptedAt: 6000 }), /grew by 5500 ms since the last statement, but only 1500 ms have passed/],
    ['cost', async () => await signStatement(statement({ cost: 999_999 })), () => deal(), /cost 999999 µcr is not price × time/]
  ] as const)('refuses %s: %s', async (refusal, make, d, message) => {
    const check = await checkStatement(await make(), d())
    expect(check.ok).toBe(false)
    if (!check.ok) {
      expect(check.refusal).toBe(refusal)
      expect(check.message).toMatch(message)
    }
  })
})

describe('vouchers are checked by the provider', () => {
  it('takes a voucher past the last', async () => {
    expect((await checkVoucher(await signVoucher(voucher()), vdeal())).ok).toBe(true)
  })
  it.each([
    ['invalid', async () => ({ payload: new Uint8Array([0xff]), signature: new Uint8Array(64) }), /does not decode/],
    ['signature', async () => await signVoucher(voucher(), otherKey), /not signed by client/],
    ['job', async () => await signVoucher(voucher({ jobId: 'c'.repeat(32) })), /does not hold for the client: job c+/],
    ['replay', async () => await signVoucher(voucher({ seq: 3 })), /seq 3 is not past the last voucher taken \(3\)/],
    ['decreasing', async () => await signVoucher(voucher({ amount: 100 })), /promises 100 µcr in all, less than the 4000 µcr already promised/]
  ] as const)('refuses %s', async (refusal, make, message) => {
    const check = await checkVoucher(await make(), vdeal())
    expect(check.ok).toBe(false)
    if (!check.ok) {
      expect(check.refusal).toBe(refusal)
      expect(check.message).toMatch(message)
    }
  })
})

describe('the ledger', () => {
  it('counts each voucher once, by job and seq, and only ever grows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floe-ledger-'))
    const index = new ClassicLevel<string, string>(dir)
    await index.open()
    const ledger = billingLedger(index)
    await ledger.open({ jobId, role: 'provider', counterparty: client, leaseId: 'lease', pricePerHour: PRICE })
    const v2 = voucher({ seq: 2, amount: 2000 })
    const v3 = voucher({ seq: 3, amount: 3000 })
    expect(await ledger.applyVoucher(v3, await signVoucher(v3), provider)).toBe(true)
    // the same voucher again (a reattach, a statement exchange), or an older one: nothing changes
    expect(await ledger.applyVoucher(v3, await signVoucher(v3), provider)).toBe(false)
    expect(await ledger.applyVoucher(v2, await signVoucher(v2), provider)).toBe(false)
    const key = { jobId, counterparty: client, leaseId: 'lease' }
    const row = await ledger.get(key)
    expect(row).toMatchObject({ amount: 3000, voucherSeq: 3, role: 'provider', counterparty: client })
    // update cannot change the amount: only vouchers do
    await ledger.update(key, r => { r.amount = 1; r.receiptCost = 3100 })
    expect(await ledger.get(key)).toMatchObject({ amount: 3000, receiptCost: 3100 })
    await index.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps a row per lease: a job retried on another provider is metered afresh, and the first provider\'s promises count for neither', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floe-ledger-'))
    const index = new ClassicLevel<string, string>(dir)
    await index.open()
    try {
      const ledger = billingLedger(index)
      const meter = clientMeter({ self: client, privateKey: clientKey, ledger, budgets: { capFor: async () => ({ cap: null, why: null }) }, log: pino({ level: 'silent' }) })
      const acceptedAt = Date.now() - 20_000
      const first = { jobId, leaseId: 'lease-1', provider, pricePerHour: PRICE, acceptedAt, projectId: 'p', project: 'p', ref: 'me/p/1', maxCost: null }
      const taken = await meter.statement(first, await signStatement(statement({ leaseId: 'lease-1', seq: 1, runningMs: 8000, cost: costFor(PRICE, 8000) })))
      expect(taken).toMatchObject({ stop: null, refused: null })
      // the first provider went silent; the job went to another, which starts its statements at seq 1
      const otherProvider = peerIdFromPrivateKey(otherKey).toString()
      const second = { ...first, leaseId: 'lease-2', provider: otherProvider, acceptedAt: Date.now() - 3000 }
      const fresh = await meter.statement(second, await signStatement(statement({ leaseId: 'lease-2', provider: otherProvider, seq: 1, runningMs: 2000, cost: costFor(PRICE, 2000) }), otherKey))
      // before: refused as a replay of the first provider's seq 1, and the job stopped
      expect(fresh.refused?.message).toBeUndefined()
      expect(fresh.stop).toBeNull()
      const promised = await openVoucher(fresh.voucher as SignedDoc)
      // its own cost, not the first provider's 8000 µcr carried over
      expect(promised).toMatchObject({ provider: otherProvider, leaseId: 'lease-2', seq: 1, amount: costFor(PRICE, 2000) })
      expect(await ledger.get({ jobId, counterparty: provider, leaseId: 'lease-1' })).toMatchObject({ amount: costFor(PRICE, 8000), statementSeq: 1 })
      expect(await ledger.get({ jobId, counterparty: otherProvider, leaseId: 'lease-2' })).toMatchObject({ amount: costFor(PRICE, 2000), statementSeq: 1 })
      // a provider that names the first provider's lease for its own job meets its own empty row, not the first one's
      expect(await ledger.get({ jobId, counterparty: otherProvider, leaseId: 'lease-1' })).toBeUndefined()
    } finally {
      await index.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('moves a row kept under the job alone (before leases had rows) to its lease, once, losing nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floe-ledger-'))
    let index = new ClassicLevel<string, string>(dir)
    await index.open()
    try {
      const old = { jobId, role: 'client', counterparty: provider, leaseId: 'lease', projectId: 'p', project: 'p', ref: 'me/p/1', pricePerHour: PRICE, startedAt: 5, amount: 4200, voucherSeq: 2, voucher: null, final: true, statementSeq: 2, statementRunningMs: 4200, intervalMs: 1000, receiptCost: 4200, disputed: null, updatedAt: 6 }
      await index.put(`billing-job!${jobId}`, JSON.stringify(old))
      const rows = async (): Promise<unknown[]> => { const all = []; for await (const row of billingLedger(index).rows()) all.push(row); return all }
      expect(await rows()).toEqual([old])
      expect(await index.get(`billing-job!${jobId}`)).toBeUndefined()
      await index.close()
      index = new ClassicLevel<string, string>(dir)
      await index.open()
      expect(await billingLedger(index).get({ jobId, counterparty: provider, leaseId: 'lease' })).toEqual(old)
      expect(await rows()).toEqual([old])
    } finally {
      await index.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
