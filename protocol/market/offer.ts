import { z } from 'zod'
import { TiB } from '../units.js'
import { OFFER_TOPIC } from '../ids.js'

/**
 * A provider's offer: what it shares, at what price, until when. Published on the gossipsub
 * topic OFFER_TOPIC as a signed record (see offer-record.ts); every field is checked before
 * an offer enters a book. Prices are floe credits per hour.
 */
export { OFFER_TOPIC }

/** The most an encoded signed offer may take. */
export const MAX_OFFER_BYTES = 16 * 1024
/** How far ahead an offer may expire, and how far a sequence number may run ahead of our clock. */
export const MAX_OFFER_LIFETIME_MS = 10 * 60_000
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

const count = (max: number) => z.number().int().nonnegative().max(max)
const bytes = z.number().int().nonnegative().max(64 * TiB)
const price = z.number().nonnegative().max(1e9).refine(Number.isFinite, { message: 'not a finite price' })

export const Gpu = z.object({
  index: count(63),
  uuid: z.string().min(1).max(128),
  model: z.string().min(1).max(128),
  memoryBytes: bytes,
  /** not assigned to a running job */
  free: z.boolean()
}).strict()
export type Gpu = z.infer<typeof Gpu>

export const Offer = z.object({
  version: z.literal(1),
  peerId: z.string().min(1).max(128),
  addrs: z.array(z.string().min(1).max(512)).max(16),
  /** strictly increasing per provider (milliseconds of its clock): a lower one is a replay */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** milliseconds since the epoch */
  expiresAt: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  cpu: z.object({ model: z.string().max(256), shared: count(4096), free: count(4096) }).strict(),
  memory: z.object({ sharedBytes: bytes, freeBytes: bytes }).strict(),
  diskFreeBytes: bytes,
  gpus: z.array(Gpu).max(64),
  /** environment names held (images labelled as floe environments) */
  environments: z.array(z.string().min(1).max(128)).max(256),
  /** the largest environment image a job may bring here (fetched and loaded); absent: none */
  acceptsEnvironmentBytes: bytes.optional(),
  prices: z.object({
    perCpuHour: price,
    perGiBHour: price,
    /** by GPU model; a model not listed here is not offered */
    perGpuHour: z.record(z.string().min(1).max(128), price)
  }).strict(),
  maxJobSeconds: z.number().int().positive().max(366 * 24 * 3600),
  maxConcurrentJobs: count(1024),
  runningJobs: count(1024),
  /** whether jobs may use the network */
  network: z.boolean()
}).strict()
export type Offer = z.infer<typeof Offer>
