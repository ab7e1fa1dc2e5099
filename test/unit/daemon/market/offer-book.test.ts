import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { offerBook } from '../../../../daemon/market/offer-book.js'
import { signOffer } from '../../../../daemon/market/offer-signing.js'
import { encodeOfferPayload, encodeOfferRecord, offerSigningBytes } from '../../../../protocol/market/offer-record.js'
import { sampleOffer } from '../../../helpers/offers.js'

const NOW = 1_800_000_000_000

async function provider () {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

describe('offer book', () => {
  it('files a signed offer, keeps the newest per provider, and drops it on expiry', async () => {
    let clock = NOW
    const book = offerBook({ now: () => clock })
    const p = await provider()
    expect(await book.accept(await signOffer(p.key, sampleOffer(p.id, NOW)), { author: p.id })).toBe('added')
    expect(await book.accept(await signOffer(p.key, sampleOffer(p.id, NOW)))).toBe('duplicate')
    expect(await book.accept(await signOffer(p.key, sampleOffer(p.id, NOW, { seq: NOW + 1, runningJobs: 1 })))).toBe('updated')
    expect(book.list().map(e => [e.offer.peerId, e.offer.runningJobs])).toEqual([[p.id, 1]])
    clock = NOW + 61_000
    expect(book.list()).toEqual([])
    expect(book.get(p.id)).toBeUndefined()
  })

  it('refuses forged, replayed, expired, future, oversized, absurd and misattributed offers, counting each', async () => {
    const book = offerBook({ now: () => NOW })
    const p = await provider()
    const mallory = await provider()
    await book.accept(await signOffer(p.key, sampleOffer(p.id, NOW, { seq: NOW + 10 })))

    // signed by another key, claiming p's peer id
    const payload = encodeOfferPayload(sampleOffer(p.id, NOW, { seq: NOW + 20, prices: { perCpuHour: 0, perGiBHour: 0, perGpuHour: {} } }))
    const forged = encodeOfferRecord(payload, await mallory.key.sign(offerSigningBytes(payload)))
    await expect(book.accept(forged)).rejects.toMatchObject({ reason: 'bad-signature' })

    await expect(book.accept(await signOffer(p.key, sampleOffer(p.id, NOW, { seq: NOW + 5 })))).rejects.toMatchObject({ reason: 'replayed' })
    await expect(book.accept(await signOffer(p.key, sampleOffer(p.id, NOW - 120_000)))).rejects.toMatchObject({ reason: 'expired' })
    await expect(book.accept(await signOffer(p.key, sampleOffer(p.id, NOW, { seq: NOW + 3_600_000, expiresAt: NOW + 3_660_000 })))).rejects.toMatchObject({ reason: 'from-the-future' })
    await expect(book.accept(await signOffer(mallory.key, sampleOffer(mallory.id, NOW)), { author: p.id })).rejects.toMatchObject({ reason: 'wrong-author' })
    await expect(book.accept(new Uint8Array(20_000))).rejects.toMatchObject({ reason: 'oversized' })
    await expect(book.accept(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ reason: 'malformed' })
    // a billion GPUs' worth of CPUs, a negative price: refused before any signature check
    const absurd = { ...sampleOffer(mallory.id, NOW), cpu: { model: 'x', shared: 1e9, free: 1e9 }, prices: { perCpuHour: -1, perGiBHour: 0, perGpuHour: {} } }
    const absurdPayload = dagCbor.encode(absurd)
    await expect(book.accept(dagCbor.encode({ payload: absurdPayload, signature: await mallory.key.sign(offerSigningBytes(absurdPayload)) }))).rejects.toMatchObject({ reason: 'invalid' })

    expect(book.rejections()).toEqual({ 'bad-signature': 1, replayed: 1, expired: 1, 'from-the-future': 1, 'wrong-author': 1, oversized: 1, malformed: 1, invalid: 1 })
    // what was held is untouched
    expect(book.list().map(e => [e.offer.peerId, e.offer.seq, e.offer.prices.perCpuHour])).toEqual([[p.id, NOW + 10, 0.05]])
  })
})

describe('offer book bounds', () => {
  const limits = { total: 8, perPeer: 3, perAddress: 5 }
  const signed = async (p: { key: any, id: string }, seq = NOW): Promise<Uint8Array> => await signOffer(p.key, sampleOffer(p.id, NOW, { seq }))
  const flood = async (book: ReturnType<typeof offerBook>, n: number, source: { peer: string, address?: string }): Promise<number> => {
    let crowded = 0
    for (let i = 0; i < n; i++) {
      const fresh = await provider()
      await book.accept(await signed(fresh), { author: fresh.id, source }).catch((err: any) => {
        expect(err.reason).toBe('crowded')
        crowded++
      })
    }
    return crowded
  }

  it('holds at most its share per relaying peer, per relaying address, and in total', async () => {
    const book = offerBook({ now: () => NOW, limits })
    // one connection relaying fresh peer ids: its share, then refused
    expect(await flood(book, 10, { peer: 'relay-a', address: '10.0.0.1' })).toBe(7)
    expect(book.size()).toBe(3)
    // more connections from the same machine: the address's share
    expect(await flood(book, 10, { peer: 'relay-b', address: '10.0.0.1' })).toBe(8)
    expect(book.size()).toBe(5)
    // many machines: the total
    for (let m = 2; m < 10; m++) await flood(book, 3, { peer: `relay-${m}`, address: `10.0.0.${m}` })
    expect(book.size()).toBe(limits.total)
    expect(book.rejections().crowded).toBeGreaterThan(15)
  })

  it('keeps honest offers when full: its own provider\'s offer and a small relay\'s displace the largest relay\'s newest', async () => {
    const book = offerBook({ now: () => NOW, limits: { ...limits, perPeer: 8, perAddress: 8 } })
    const early = await provider()
    await book.accept(await signed(early), { author: early.id, source: { peer: 'flooder', address: '10.6.6.6' } })
    await flood(book, 20, { peer: 'flooder', address: '10.6.6.6' })
    expect(book.size()).toBe(8)
    // a provider handing over its own offer enters
    const honest = await provider()
    expect(await book.accept(await signed(honest), { author: honest.id, source: { peer: honest.id, address: '10.0.0.7' } })).toBe('added')
    // an offer relayed by a peer that relays few enters too
    const relayed = await provider()
    expect(await book.accept(await signed(relayed), { author: relayed.id, source: { peer: 'neighbour', address: '10.0.0.8' } })).toBe('added')
    expect(book.size()).toBe(8)
    const held = book.list().map(e => e.offer.peerId)
    expect(held).toEqual(expect.arrayContaining([honest.id, relayed.id, early.id]))
    // the flood goes on: it only displaces itself, the honest offers stay, and their updates are taken
    await flood(book, 20, { peer: 'flooder', address: '10.6.6.6' })
    expect(book.list().map(e => e.offer.peerId)).toEqual(expect.arrayContaining([honest.id, relayed.id, early.id]))
    expect(await book.accept(await signed(honest, NOW + 1), { author: honest.id, source: { peer: honest.id } })).toBe('updated')
    expect(book.size()).toBe(8)
  })

  it('drops expired offers before refusing a newcomer, and frees a relay\'s share when they go', async () => {
    let clock = NOW
    const book = offerBook({ now: () => clock, limits })
    await flood(book, 3, { peer: 'relay-a', address: '10.0.0.1' })
    expect(await flood(book, 1, { peer: 'relay-a', address: '10.0.0.1' })).toBe(1)
    clock = NOW + 61_000
    const later = await provider()
    expect(await book.accept(await signOffer(later.key, sampleOffer(later.id, clock)), { author: later.id, source: { peer: 'relay-a', address: '10.0.0.1' } })).toBe('added')
    expect(book.list()).toHaveLength(1)
  })
})
