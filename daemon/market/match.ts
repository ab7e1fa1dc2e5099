import type { Gpu, Offer } from '../../protocol/market/offer.js'
import { formatDuration, formatSize } from '../../protocol/market/requirements.js'
import type { ExcludedOffer, RankedOffer, Requirements } from '../../protocol/market/requirements.js'
import { GiB } from '../../protocol/units.js'
import { money } from '../../protocol/format.js'

/** What matching knows beyond the offers: the time, and what we measured of each peer. */
export interface MatchContext {
  /** milliseconds since the epoch */
  now: number
  /** round-trip time to the peer, when known */
  latencyMs?: (peerId: string) => number | undefined
  /** 0..1, the share of its past jobs the peer finished, when known */
  reliability?: (peerId: string) => number | undefined
}

export interface MatchResult {
  /** best first */
  ranked: RankedOffer[]
  /** by peerId */
  excluded: ExcludedOffer[]
}

/** Latency that scores one half, and the value assumed for a peer never measured. */
const LATENCY_HALF_MS = 100
/** Reliability assumed for a peer with no history: neither trusted nor distrusted. */
const UNKNOWN_RELIABILITY = 0.5
const WEIGHT_LATENCY = 0.4
const WEIGHT_RELIABILITY = 0.4
const WEIGHT_FIT = 0.2

/**
 * Filters offers by the requirements and ranks those that fit. Pure and synchronous.
 *
 * An offer is excluded with every reason that applies. For one that fits, the GPUs chosen
 * are the cheapest free ones that pass the model and memory filters, and its cost per hour
 * is cpus × perCpuHour + memory in GiB × perGiBHour + Σ the chosen GPUs' perGpuHour,
 * rounded to 1e-6 credits.
 *
 * Ranking: cost ascending, then score descending, then peerId ascending, where
 *
 *   score = 0.4 × latency + 0.4 × reliability + 0.2 × fit   (each term 0..1, rounded to 1e-6)
 *   latency     = 100 / (100 + latencyMs)   (1 at 0 ms, ½ at 100 ms; unknown counts as 100 ms)
 *   reliability = the peer's 0..1 record    (unknown counts as 0.5)
 *   fit         = mean over CPUs, memory and GPUs of requested / free (0 of 0 counts as 1)
 *
 * so that among equal prices a near, dependable provider wins, and a job takes the machine it
 * fills best: a CPU-only job prefers a provider with no free GPU, leaving those to GPU jobs.
 */
export function matchOffers (offers: readonly Offer[], req: Requirements, context: MatchContext): MatchResult {
  const ranked: RankedOffer[] = []
  const excluded: ExcludedOffer[] = []
  for (const offer of offers) {
    const result = matchOffer(offer, req, context)
    if ('costPerHour' in result) ranked.push(result)
    else excluded.push(result)
  }
  ranked.sort((a, b) => a.costPerHour - b.costPerHour || b.score - a.score || comparePeerIds(a.peerId, b.peerId))
  excluded.sort((a, b) => comparePeerIds(a.peerId, b.peerId))
  return { ranked, excluded }
}

function matchOffer (offer: Offer, req: Requirements, context: MatchContext): RankedOffer | ExcludedOffer {
  const reasons: string[] = []
  if (offer.expiresAt <= context.now) reasons.push('offer expired')
  if (offer.runningJobs >= offer.maxConcurrentJobs) {
    reasons.push(offer.maxConcurrentJobs === 0
      ? 'not accepting jobs'
      : `at its limit of ${plural(offer.maxConcurrentJobs, 'concurrent job')}`)
  }
  if (req.cpus > offer.cpu.free) reasons.push(`needs ${plural(req.cpus, 'CPU')}, ${offer.cpu.free} free`)
  if (req.memoryBytes > offer.memory.freeBytes) {
    reasons.push(`needs ${formatSize(req.memoryBytes)} of memory, ${formatSize(offer.memory.freeBytes)} free`)
  }
  const gpus = chooseGpus(offer, req)
  if (gpus.chosen == null) reasons.push(gpuShortage(req, gpus.matching, gpus.free))
  if (req.environment !== undefined && !offer.environments.includes(req.environment)) {
    const brought = req.environmentBytes !== undefined && offer.acceptsEnvironmentBytes !== undefined && req.environmentBytes <= offer.acceptsEnvironmentBytes
    if (!brought) {
      reasons.push(req.environmentBytes === undefined || offer.acceptsEnvironmentBytes === undefined
        ? `environment "${req.environment}" not held`
        : `environment "${req.environment}" not held, and its ${formatSize(req.environmentBytes)} image is more than the ${formatSize(offer.acceptsEnvironmentBytes)} it takes`)
    }
  }
  if (req.network === true && !offer.network) reasons.push('needs network access, not allowed')
  if (req.maxSeconds !== undefined && req.maxSeconds > offer.maxJobSeconds) {
    reasons.push(`time limit ${formatDuration(req.maxSeconds)} is above the offer's ${formatDuration(offer.maxJobSeconds)} maximum`)
  }
  // Without enough GPUs there is no shape to price; the shortage is reason enough.
  const cost = gpus.chosen == null ? undefined : costPerHour(offer, req, gpus.chosen)
  if (cost !== undefined && req.maxPricePerHour !== undefined && cost > req.maxPricePerHour) {
    reasons.push(`costs ${money(cost)}/h, above the ${money(req.maxPricePerHour)}/h limit`)
  }
  if (reasons.length > 0 || cost === undefined || gpus.chosen == null) return { peerId: offer.peerId, reasons }

  const latencyMs = known(context.latencyMs?.(offer.peerId), 0, Infinity)
  const reliability = known(context.reliability?.(offer.peerId), 0, 1)
  const notes: string[] = []
  if (latencyMs === null) notes.push('latency unknown')
  if (reliability === null) notes.push('reliability unknown')
  const freeGpus = offer.gpus.filter(gpu => gpu.free && isPriced(offer, gpu)).length
  const fit = (ratio(req.cpus, offer.cpu.free) + ratio(req.memoryBytes, offer.memory.freeBytes) + ratio(req.gpus, freeGpus)) / 3
  const score = round6(
    WEIGHT_LATENCY * (LATENCY_HALF_MS / (LATENCY_HALF_MS + (latencyMs ?? LATENCY_HALF_MS))) +
    WEIGHT_RELIABILITY * (reliability ?? UNKNOWN_RELIABILITY) +
    WEIGHT_FIT * fit
  )
  return {
    peerId: offer.peerId,
    costPerHour: cost,
    score,
    latencyMs,
    reliability,
    gpus: gpus.chosen.map(gpu => gpu.index).sort((a, b) => a - b),
    ...(notes.length > 0 ? { reasons: notes } : {})
  }
}

/** The offer as it would be with none of its jobs running: what could fit once the provider is free. */
export function asIdle (offer: Offer): Offer {
  return {
    ...offer,
    cpu: { ...offer.cpu, free: offer.cpu.shared },
    memory: { ...offer.memory, freeBytes: offer.memory.sharedBytes },
    gpus: offer.gpus.map(gpu => ({ ...gpu, free: true })),
    runningJobs: 0
  }
}

/** A GPU model filter as users give it: a case-insensitive substring ("a100" matches "NVIDIA A100-SXM4-40GB"); none matches all. */
export function gpuModelMatches (model: string, filter: string | undefined): boolean {
  return filter === undefined || model.toLowerCase().includes(filter.toLowerCase())
}

/**
 * The cheapest free GPUs that pass the filters (on equal price the one with less memory, so
 * bigger cards stay free for jobs that need them; then the lower index), or null when there
 * are too few; with how many priced GPUs pass the filters and how many of those are free.
 */
function chooseGpus (offer: Offer, req: Requirements): { chosen: Gpu[] | null, matching: number, free: number } {
  if (req.gpus === 0) return { chosen: [], matching: 0, free: 0 }
  const matching = offer.gpus.filter(gpu =>
    isPriced(offer, gpu) &&
    gpuModelMatches(gpu.model, req.gpuModel) &&
    (req.minGpuMemoryBytes === undefined || gpu.memoryBytes >= req.minGpuMemoryBytes))
  const free = matching
    .filter(gpu => gpu.free)
    .sort((a, b) => gpuPrice(offer, a) - gpuPrice(offer, b) || a.memoryBytes - b.memoryBytes || a.index - b.index)
  return {
    chosen: free.length >= req.gpus ? free.slice(0, req.gpus) : null,
    matching: matching.length,
    free: free.length
  }
}

function gpuShortage (req: Requirements, matching: number, free: number): string {
  const filters: string[] = []
  if (req.gpuModel !== undefined) filters.push(` of model "${req.gpuModel}"`)
  if (req.minGpuMemoryBytes !== undefined) filters.push(` with at least ${formatSize(req.minGpuMemoryBytes)}`)
  if (filters.length === 0) return `needs ${plural(req.gpus, 'GPU')}, ${free} free`
  return `needs ${plural(req.gpus, 'GPU')}${filters.join('')}, ${matching} match, ${free} free`
}

function costPerHour (offer: Offer, req: Requirements, gpus: readonly Gpu[]): number {
  let cost = req.cpus * offer.prices.perCpuHour + (req.memoryBytes / GiB) * offer.prices.perGiBHour
  for (const gpu of gpus) cost += gpuPrice(offer, gpu)
  return round6(cost)
}

/** A GPU whose model has no price is not offered. */
function isPriced (offer: Offer, gpu: Gpu): boolean {
  return Object.hasOwn(offer.prices.perGpuHour, gpu.model)
}

function gpuPrice (offer: Offer, gpu: Gpu): number {
  return offer.prices.perGpuHour[gpu.model] ?? Infinity
}

/** A measurement within [min, max], else null (never measured, or nonsense). */
function known (value: number | undefined, min: number, max: number): number | null {
  return value !== undefined && Number.isFinite(value) && value >= min && value <= max ? value : null
}

function ratio (requested: number, free: number): number {
  return free === 0 ? 1 : requested / free
}

function round6 (value: number): number {
  return Math.round(value * 1e6) / 1e6
}

function plural (n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** Code-point order, so the result does not depend on the locale. */
function comparePeerIds (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
