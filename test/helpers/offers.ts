import type { Offer } from '../../protocol/market/offer.js'

/** A valid offer for `peerId`, live for a minute from `now`; override what a test needs. */
export function sampleOffer (peerId: string, now: number, overrides: Partial<Offer> = {}): Offer {
  return {
    version: 1,
    peerId,
    addrs: ['/ip4/127.0.0.1/tcp/4460'],
    seq: now,
    expiresAt: now + 60_000,
    cpu: { model: 'Test CPU', shared: 8, free: 8 },
    memory: { sharedBytes: 16 * 1024 ** 3, freeBytes: 16 * 1024 ** 3 },
    diskFreeBytes: 100 * 1024 ** 3,
    gpus: [],
    environments: ['busybox'],
    prices: { perCpuHour: 0.05, perGiBHour: 0.01, perGpuHour: {} },
    maxJobSeconds: 86_400,
    maxConcurrentJobs: 2,
    runningJobs: 0,
    network: false,
    ...overrides
  }
}
