import type { Offer } from '../../protocol/market/offer.js'
import type { ProviderSettings } from '../config/index.js'
import type { Resources } from './resources/index.js'

/** An offer lasts this long; it is published again well before (OFFER_REFRESH_MS). */
export const OFFER_TTL_MS = 90_000
export const OFFER_REFRESH_MS = 30_000

/** What running jobs hold: taken from the free capacity an offer states. */
export interface Allocated {
  jobs: number
  cpus: number
  memoryBytes: number
  /** GPU indexes */
  gpus: readonly number[]
}

export const NOTHING_ALLOCATED: Allocated = { jobs: 0, cpus: 0, memoryBytes: 0, gpus: [] }

/**
 * What this provider offers now: the measured resources within what the settings share,
 * less what running jobs hold.
 * A GPU whose memory nvidia-smi could not report is left out rather than guessed, and so is
 * a GPU model without a price.
 */
export function buildOffer (init: { peerId: string, addrs: string[], resources: Resources, settings: ProviderSettings, seq: number, now: number, allocated?: Allocated }): Offer {
  const { resources, settings } = init
  const allocated = init.allocated ?? NOTHING_ALLOCATED
  const cores = resources.cpu.cores
  const sharedCpus = Math.min(settings.cpus ?? cores, cores)
  const sharedMemory = Math.min(settings.memoryBytes ?? Math.floor(resources.memory.totalBytes * 0.75), resources.memory.totalBytes)
  const priceOf = (model: string): number | undefined => settings.prices.perGpuHour[model] ?? settings.prices.perGpuHour['*']
  const gpus = resources.gpu.gpus
    .filter(gpu => settings.gpus === 'all' || settings.gpus.includes(gpu.index))
    .filter(gpu => gpu.memoryBytes != null && priceOf(gpu.model) != null)
    .map(gpu => ({ index: gpu.index, uuid: gpu.uuid, model: gpu.model, memoryBytes: gpu.memoryBytes as number, free: !allocated.gpus.includes(gpu.index) }))
  const perGpuHour: Record<string, number> = {}
  for (const gpu of gpus) perGpuHour[gpu.model] = priceOf(gpu.model) as number
  return {
    version: 1,
    peerId: init.peerId,
    addrs: init.addrs.slice(0, 16),
    seq: init.seq,
    expiresAt: init.now + OFFER_TTL_MS,
    cpu: { model: (resources.cpu.model ?? 'unknown').slice(0, 256), shared: sharedCpus, free: Math.max(0, sharedCpus - allocated.cpus) },
    memory: { sharedBytes: sharedMemory, freeBytes: Math.max(0, Math.min(sharedMemory - allocated.memoryBytes, resources.memory.availableBytes)) },
    diskFreeBytes: resources.disk.freeBytes,
    gpus,
    environments: [...new Set(resources.docker.environments.map(e => e.name))].slice(0, 256),
    // an image needs room for its blocks, Docker's copy while loading and its layers: about 3× its size
    ...(settings.acceptEnvironments && resources.docker.available ? { acceptsEnvironmentBytes: Math.max(0, Math.min(settings.maxEnvironmentsBytes, Math.floor(resources.disk.freeBytes / 3))) } : {}),
    prices: { perCpuHour: settings.prices.perCpuHour, perGiBHour: settings.prices.perGiBHour, perGpuHour },
    maxJobSeconds: settings.maxJobSeconds,
    maxConcurrentJobs: settings.maxConcurrentJobs,
    runningJobs: allocated.jobs,
    network: settings.network
  }
}
