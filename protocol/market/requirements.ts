import { z } from 'zod'
import { GiB, KiB, MiB, TiB } from '../units.js'

/**
 * What a job asks of a provider, and what matching answers: the wire format shared by the
 * client (built from `floe run` flags) and the daemon (matched against its offer book).
 * Sizes are bytes, durations seconds, prices floe credits per hour (as in offer.ts).
 */

/** The longest time limit any offer may carry (offer.ts: maxJobSeconds). */
const MAX_JOB_SECONDS = 366 * 24 * 3600

const bytes = z.number().int().nonnegative().max(64 * TiB)
const price = z.number().nonnegative().max(1e9).refine(Number.isFinite, { message: 'not a finite price' })
const peerId = z.string().min(1).max(128)
const reason = z.string().min(1).max(512)

/** A size, a duration or a set of requirements that cannot be understood. */
export class InvalidRequirementError extends Error {
  override name = 'InvalidRequirementError'
}

export const Requirements = z.object({
  cpus: z.number().int().positive().max(4096).default(1),
  memoryBytes: bytes.default(GiB),
  gpus: z.number().int().nonnegative().max(64).default(0),
  /** case-insensitive substring of the model name: "a100" matches "NVIDIA A100-SXM4-40GB" */
  gpuModel: z.string().min(1).max(128).optional(),
  /** each chosen GPU has at least this much memory */
  minGpuMemoryBytes: bytes.optional(),
  /** an environment name the provider must hold */
  environment: z.string().min(1).max(128).optional(),
  /** the environment's image can be brought (by CID): a provider that takes images this big need not hold it */
  environmentBytes: bytes.optional(),
  maxPricePerHour: price.optional(),
  /** the job's time limit; must fit the offer's maxJobSeconds */
  maxSeconds: z.number().int().positive().max(MAX_JOB_SECONDS).optional(),
  /** the job needs the network */
  network: z.boolean().optional()
}).strict().superRefine((req, ctx) => {
  // A GPU filter without GPUs is a mistake the user should hear about, not one to ignore.
  for (const key of ['gpuModel', 'minGpuMemoryBytes'] as const) {
    if (req[key] !== undefined && req.gpus === 0) {
      ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs gpus of at least 1` })
    }
  }
})
/** Requirements with their defaults filled in (what matching takes). */
export type Requirements = z.output<typeof Requirements>
/** Requirements as sent, defaults optional. */
export type RequirementsInput = z.input<typeof Requirements>

/** An offer that fits, with what it would cost and why it ranks where it does. */
export const RankedOffer = z.object({
  peerId,
  costPerHour: price,
  /** 0..1, higher is better; orders offers of equal cost (see daemon/market/match.ts) */
  score: z.number().min(0).max(1),
  latencyMs: z.number().nonnegative().nullable(),
  reliability: z.number().min(0).max(1).nullable(),
  /** indexes of the GPUs chosen, ascending */
  gpus: z.array(z.number().int().nonnegative().max(63)).max(64),
  /** notes on the ranking, e.g. "latency unknown" */
  reasons: z.array(reason).max(16).optional()
}).strict()
export type RankedOffer = z.infer<typeof RankedOffer>

/** An offer that does not fit, with every reason that applies. */
export const ExcludedOffer = z.object({
  peerId,
  reasons: z.array(reason).min(1).max(16)
}).strict()
export type ExcludedOffer = z.infer<typeof ExcludedOffer>

// ---- sizes --------------------------------------------------------------------------------

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: KiB,
  kb: KiB,
  ki: KiB,
  kib: KiB,
  m: MiB,
  mb: MiB,
  mi: MiB,
  mib: MiB,
  g: GiB,
  gb: GiB,
  gi: GiB,
  gib: GiB,
  t: TiB,
  tb: TiB,
  ti: TiB,
  tib: TiB
}

/**
 * A size as people write it on the command line: "512m", "8g", "8GiB", "4Gi", "1.5G", "1024".
 * Units are binary whatever their spelling (1k = 1024 bytes, 1g = 1024 MiB), as memory is
 * counted; the result is rounded to whole bytes.
 */
export function parseSize (text: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/.exec(text.trim().toLowerCase())
  if (match == null) {
    throw new InvalidRequirementError(`"${text}" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB`)
  }
  const unit = SIZE_UNITS[match[2] ?? '']
  if (unit === undefined) {
    throw new InvalidRequirementError(`"${text}" has an unknown unit "${match[2]}"; use b, k, m, g or t (binary: 1g = 1024m)`)
  }
  const value = Math.round(Number(match[1]) * unit)
  if (!Number.isSafeInteger(value)) throw new InvalidRequirementError(`"${text}" is too large a size`)
  return value
}

/** `1.5 GiB`, `512 MiB`, `12 B`: sizes in messages (two decimals at most). */
export function formatSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${Number(value.toFixed(2))} ${units[unit]}`
}

// ---- durations ----------------------------------------------------------------------------

const DURATION_UNITS = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const
const num = String.raw`(\d+(?:\.\d+)?)`
const DURATION = new RegExp(`^(?:${num}d)?\\s*(?:${num}h)?\\s*(?:${num}m)?\\s*(?:${num}s)?$`)

/**
 * A duration as people write it: "90s", "30m", "2h", "1h30m", "1d", "1.5h"; a bare number is
 * seconds. Units in that order, each once; the result is whole seconds, at least one.
 */
export function parseDuration (text: string): number {
  const trimmed = text.trim().toLowerCase()
  let seconds: number
  if (/^\d+$/.test(trimmed)) {
    seconds = Number(trimmed)
  } else {
    const match = DURATION.exec(trimmed)
    if (match == null || trimmed === '') {
      throw new InvalidRequirementError(`"${text}" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m`)
    }
    seconds = 0
    DURATION_UNITS.forEach(([, factor], i) => {
      const part = match[i + 1]
      if (part !== undefined) seconds += Number(part) * factor
    })
    seconds = Math.round(seconds)
  }
  if (!Number.isSafeInteger(seconds)) throw new InvalidRequirementError(`"${text}" is too long a duration`)
  if (seconds < 1) throw new InvalidRequirementError(`"${text}" is too short; a duration is at least 1s`)
  return seconds
}

/** `1h30m`, `45s`, `2d`: durations in messages, the inverse of parseDuration for whole seconds. */
export function formatDuration (seconds: number): string {
  let left = Math.round(seconds)
  let text = ''
  for (const [unit, factor] of DURATION_UNITS) {
    const n = Math.floor(left / factor)
    if (n > 0) text += `${n}${unit}`
    left -= n * factor
  }
  return text === '' ? '0s' : text
}
