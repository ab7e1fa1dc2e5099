import { describe, expect, it } from 'vitest'
import { matchOffers } from '../../../../daemon/market/match.js'
import { Offer } from '../../../../protocol/market/offer.js'
import type { Gpu } from '../../../../protocol/market/offer.js'
import { ExcludedOffer, RankedOffer, Requirements } from '../../../../protocol/market/requirements.js'
import type { RequirementsInput } from '../../../../protocol/market/requirements.js'

const GiB = 1024 ** 3
const NOW = 1_700_000_000_000
const A100_40 = 'NVIDIA A100-SXM4-40GB'
const A100_80 = 'NVIDIA A100-SXM4-80GB'
const T4 = 'Tesla T4'

type OfferPatch = Partial<Omit<Offer, 'prices'>> & { prices?: Partial<Offer['prices']> }

/** A valid offer: 8 free CPUs, 32 GiB free, no GPUs, busybox, 0.10/CPU·h, 0.01/GiB·h. */
function offer (peerId: string, patch: OfferPatch = {}): Offer {
  const { prices, ...rest } = patch
  return Offer.parse({
    version: 1,
    peerId,
    addrs: [`/ip4/127.0.0.1/tcp/4460/p2p/${peerId}`],
    seq: 1,
    expiresAt: NOW + 60_000,
    cpu: { model: 'test cpu', shared: 8, free: 8 },
    memory: { sharedBytes: 32 * GiB, freeBytes: 32 * GiB },
    diskFreeBytes: 100 * GiB,
    gpus: [],
    environments: ['busybox'],
    maxJobSeconds: 24 * 3600,
    maxConcurrentJobs: 4,
    runningJobs: 0,
    network: false,
    ...rest,
    prices: { perCpuHour: 0.1, perGiBHour: 0.01, perGpuHour: {}, ...prices }
  })
}

function gpu (index: number, model: string, memoryGiB: number, free = true): Gpu {
  return { index, uuid: `GPU-${index}`, model, memoryBytes: memoryGiB * GiB, free }
}

function match (offers: Offer[], req: RequirementsInput, context: Partial<Parameters<typeof matchOffers>[2]> = {}): ReturnType<typeof matchOffers> {
  const result = matchOffers(offers, Requirements.parse(req), { now: NOW, ...context })
  // whatever matching returns is what the HTTP API will validate
  for (const ranked of result.ranked) RankedOffer.parse(ranked)
  for (const excluded of result.excluded) ExcludedOffer.parse(excluded)
  return result
}

const known = { latencyMs: () => 0, reliability: () => 1 }

describe('matchOffers', () => {
  it('ranks CPU-only offers by the cost of the requested shape, cheapest first', () => {
    const offers = [
      offer('a', { prices: { perCpuHour: 0.1, perGiBHour: 0.01 } }), // 2 × 0.10 + 4 × 0.01 = 0.24
      offer('b', { prices: { perCpuHour: 0.05, perGiBHour: 0.02 } }), // 2 × 0.05 + 4 × 0.02 = 0.18
      offer('c', { prices: { perCpuHour: 0.02, perGiBHour: 0.05 } }) // 2 × 0.02 + 4 × 0.05 = 0.24
    ]
    const { ranked, excluded } = match(offers, { cpus: 2, memoryBytes: 4 * GiB }, known)
    expect(ranked.map(r => [r.peerId, r.costPerHour, r.gpus])).toEqual([['b', 0.18, []], ['a', 0.24, []], ['c', 0.24, []]])
    expect(excluded).toEqual([])
  })

  it('filters GPUs by a case-insensitive part of the model name and picks the matching one', () => {
    const perGpuHour = { [A100_40]: 2, [T4]: 0.5 }
    const offers = [
      offer('mixed', { gpus: [gpu(0, T4, 16), gpu(1, A100_40, 40)], prices: { perGpuHour } }),
      offer('t4s', { gpus: [gpu(0, T4, 16), gpu(1, T4, 16)], prices: { perGpuHour } })
    ]
    const { ranked, excluded } = match(offers, { gpus: 1, gpuModel: 'a100' }, known)
    // 1 × 0.10 + 1 × 0.01 + 2
    expect(ranked.map(r => [r.peerId, r.costPerHour, r.gpus])).toEqual([['mixed', 2.11, [1]]])
    expect(excluded).toEqual([{ peerId: 't4s', reasons: ['needs 1 GPU of model "a100", 0 match, 0 free'] }])

    // without a model filter the cheaper T4 is chosen everywhere
    expect(match(offers, { gpus: 1 }, known).ranked.map(r => [r.peerId, r.costPerHour, r.gpus]))
      .toEqual([['mixed', 0.61, [0]], ['t4s', 0.61, [0]]])
  })

  it('chooses the cheapest free priced GPUs, and never a busy or unpriced one', () => {
    const o = offer('p', {
      gpus: [gpu(0, A100_40, 40, false), gpu(1, A100_80, 80), gpu(2, 'Unpriced X', 96), gpu(3, A100_40, 40), gpu(4, T4, 16)],
      prices: { perCpuHour: 0, perGiBHour: 0, perGpuHour: { [A100_40]: 2, [A100_80]: 3, [T4]: 0.5 } }
    })
    expect(match([o], { gpus: 2, memoryBytes: 0 }, known).ranked.map(r => [r.gpus, r.costPerHour])).toEqual([[[3, 4], 2.5]])
    expect(match([o], { gpus: 3, memoryBytes: 0 }, known).ranked.map(r => [r.gpus, r.costPerHour])).toEqual([[[1, 3, 4], 5.5]])
    expect(match([o], { gpus: 4, memoryBytes: 0 }, known).excluded).toEqual([{ peerId: 'p', reasons: ['needs 4 GPUs, 3 free'] }])
  })

  it('on equal GPU price takes the card with less memory, keeping the big one free', () => {
    const o = offer('p', { gpus: [gpu(0, A100_80, 80), gpu(1, A100_80, 40)], prices: { perGpuHour: { [A100_80]: 3 } } })
    expect(match([o], { gpus: 1 }, known).ranked[0]?.gpus).toEqual([1])
  })

  it('honours a minimum GPU memory', () => {
    const perGpuHour = { [A100_40]: 2, [A100_80]: 3 }
    const offers = [
      offer('big', { gpus: [gpu(0, A100_40, 40), gpu(1, A100_80, 80)], prices: { perGpuHour } }),
      offer('small', { gpus: [gpu(0, A100_40, 40), gpu(1, A100_40, 40)], prices: { perGpuHour } })
    ]
    const { ranked, excluded } = match(offers, { gpus: 1, minGpuMemoryBytes: 48 * GiB }, known)
    expect(ranked.map(r => [r.peerId, r.gpus, r.costPerHour])).toEqual([['big', [1], 3.11]])
    expect(excluded).toEqual([{ peerId: 'small', reasons: ['needs 1 GPU with at least 48 GiB, 0 match, 0 free'] }])

    const both = match(offers, { gpus: 2, gpuModel: 'A100', minGpuMemoryBytes: 40 * GiB }, known)
    expect(both.ranked.map(r => [r.peerId, r.gpus, r.costPerHour])).toEqual([['small', [0, 1], 4.11], ['big', [0, 1], 5.11]])
  })

  it('says how many GPUs match and how many of those are free', () => {
    const o = offer('p', {
      gpus: [gpu(0, A100_40, 40, false), gpu(1, A100_40, 40, false), gpu(2, A100_40, 40), gpu(3, T4, 16)],
      prices: { perGpuHour: { [A100_40]: 2, [T4]: 0.5 } }
    })
    expect(match([o], { gpus: 2, gpuModel: 'a100' }).excluded)
      .toEqual([{ peerId: 'p', reasons: ['needs 2 GPUs of model "a100", 3 match, 1 free'] }])
  })

  it('excludes offers above the price limit and keeps those at it', () => {
    const offers = [
      offer('dear', { gpus: [gpu(0, A100_40, 40)], prices: { perCpuHour: 0.2, perGiBHour: 0, perGpuHour: { [A100_40]: 3 } } }),
      offer('fair', { gpus: [gpu(0, T4, 16)], prices: { perCpuHour: 0.5, perGiBHour: 0.5, perGpuHour: { [T4]: 1 } } })
    ]
    const { ranked, excluded } = match(offers, { gpus: 1, maxPricePerHour: 2 }, known)
    expect(ranked.map(r => [r.peerId, r.costPerHour])).toEqual([['fair', 2]])
    expect(excluded).toEqual([{ peerId: 'dear', reasons: ['costs 3.2/h, above the 2/h limit'] }])
  })

  it('breaks a cost tie by latency, then by reliability', () => {
    const offers = [offer('far'), offer('near'), offer('flaky'), offer('unknown')]
    const latency: Record<string, number> = { far: 300, near: 10, flaky: 10 }
    const reliability: Record<string, number> = { far: 0.9, near: 0.9, flaky: 0.5 }
    const { ranked } = match(offers, { cpus: 2, memoryBytes: 4 * GiB }, {
      latencyMs: peer => latency[peer],
      reliability: peer => reliability[peer]
    })
    // fit = (2/8 + 4/32 + 1) / 3 for all (no GPUs: 0 of 0 counts as 1)
    const fit = 0.2 * (0.25 + 0.125 + 1) / 3
    const score = (latencyMs: number, rel: number): number => Math.round((0.4 * 100 / (100 + latencyMs) + 0.4 * rel + fit) * 1e6) / 1e6
    expect(ranked.map(r => [r.peerId, r.costPerHour, r.score, r.latencyMs, r.reliability, r.reasons])).toEqual([
      ['near', 0.24, score(10, 0.9), 10, 0.9, undefined],
      ['flaky', 0.24, score(10, 0.5), 10, 0.5, undefined],
      ['far', 0.24, score(300, 0.9), 300, 0.9, undefined],
      ['unknown', 0.24, score(100, 0.5), null, null, ['latency unknown', 'reliability unknown']]
    ])
    expect(ranked.map(r => r.score)).toEqual([0.815303, 0.655303, 0.551667, 0.491667])
  })

  it('treats nonsense measurements as unknown', () => {
    const { ranked } = match([offer('p')], {}, { latencyMs: () => -5, reliability: () => Number.NaN })
    expect(ranked[0]).toMatchObject({ latencyMs: null, reliability: null, reasons: ['latency unknown', 'reliability unknown'] })
  })

  it('on a cost tie sends a CPU-only job to the machine without free GPUs, and the tightest fit first', () => {
    const offers = [
      offer('gpu-box', { gpus: [gpu(0, T4, 16)], prices: { perGpuHour: { [T4]: 0.5 } } }),
      offer('big-cpu', { cpu: { model: 'x', shared: 64, free: 64 } }),
      offer('small-cpu', { cpu: { model: 'x', shared: 2, free: 2 } })
    ]
    expect(match(offers, { cpus: 2 }, known).ranked.map(r => r.peerId)).toEqual(['small-cpu', 'big-cpu', 'gpu-box'])
  })

  it('breaks complete ties by peerId', () => {
    const { ranked } = match([offer('c'), offer('a'), offer('b')], {}, known)
    expect(ranked.map(r => r.peerId)).toEqual(['a', 'b', 'c'])
  })

  it('lists every reason an offer is excluded, and sorts the excluded by peerId', () => {
    const offers = [
      offer('z-everything', {
        expiresAt: NOW,
        cpu: { model: 'x', shared: 8, free: 1 },
        memory: { sharedBytes: 8 * GiB, freeBytes: 1.5 * GiB },
        gpus: [gpu(0, T4, 16, false)],
        prices: { perGpuHour: { [T4]: 0.5 } },
        environments: ['busybox'],
        maxJobSeconds: 3600,
        maxConcurrentJobs: 2,
        runningJobs: 2,
        network: false
      }),
      offer('a-closed', { maxConcurrentJobs: 0 }),
      offer('m-unpriced-gpu', { gpus: [gpu(0, 'Mystery GPU', 24)] }),
      offer('ok', { gpus: [gpu(0, T4, 16)], prices: { perGpuHour: { [T4]: 0.5 } }, environments: ['pytorch'], network: true })
    ]
    const { ranked, excluded } = match(offers, {
      cpus: 4, memoryBytes: 8 * GiB, gpus: 1, environment: 'pytorch', network: true, maxSeconds: 2 * 3600
    }, known)
    expect(ranked.map(r => r.peerId)).toEqual(['ok'])
    expect(excluded).toEqual([
      { peerId: 'a-closed', reasons: ['not accepting jobs', 'needs 1 GPU, 0 free', 'environment "pytorch" not held', 'needs network access, not allowed'] },
      { peerId: 'm-unpriced-gpu', reasons: ['needs 1 GPU, 0 free', 'environment "pytorch" not held', 'needs network access, not allowed'] },
      {
        peerId: 'z-everything',
        reasons: [
          'offer expired',
          'at its limit of 2 concurrent jobs',
          'needs 4 CPUs, 1 free',
          'needs 8 GiB of memory, 1.5 GiB free',
          'needs 1 GPU, 0 free',
          'environment "pytorch" not held',
          'needs network access, not allowed',
          'time limit 2h is above the offer\'s 1h maximum'
        ]
      }
    ])
  })

  it('accepts an offer that expires after now and a job that fits its time limit exactly', () => {
    const o = offer('p', { expiresAt: NOW + 1, maxJobSeconds: 3600 })
    expect(match([o], { maxSeconds: 3600 }).ranked.map(r => r.peerId)).toEqual(['p'])
    expect(match([o], {}, { now: NOW + 1 }).excluded).toEqual([{ peerId: 'p', reasons: ['offer expired'] }])
  })

  it('returns nothing for no offers', () => {
    expect(match([], {})).toEqual({ ranked: [], excluded: [] })
  })
})
