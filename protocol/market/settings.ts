import { z } from 'zod'
import { GiB, TiB } from '../units.js'

const Price = z.number().nonnegative().max(1e9)

/**
 * What this node shares as a provider, and at what price (floe credits per hour): the
 * `provider` part of the daemon's config.json, and what `floe provider show` reports.
 */
export const ProviderSettings = z.object({
  /** provider mode: publish offers and accept jobs */
  enabled: z.boolean().default(false),
  /** CPU cores shared; null: all of them */
  cpus: z.number().int().positive().max(4096).nullable().default(null),
  /** memory shared in bytes; null: three quarters of the machine's */
  memoryBytes: z.number().int().positive().nullable().default(null),
  /** GPUs shared: all, or these indexes */
  gpus: z.union([z.literal('all'), z.array(z.number().int().nonnegative().max(63))]).default('all'),
  prices: z.object({
    perCpuHour: Price.default(0.05),
    perGiBHour: Price.default(0.01),
    /** by GPU model name; "*" prices every model not named */
    perGpuHour: z.record(z.string().min(1).max(128), Price).default({ '*': 1 })
  }).strict().prefault({}),
  maxConcurrentJobs: z.number().int().positive().max(1024).default(2),
  maxJobSeconds: z.number().int().positive().max(366 * 24 * 3600).default(24 * 3600),
  /** whether jobs may use the network */
  network: z.boolean().default(false),
  /** peers allowed to submit jobs (empty: anyone not denied) */
  allow: z.array(z.string().min(1).max(128)).default([]),
  deny: z.array(z.string().min(1).max(128)).default([]),
  /** the most a job may leave in /output; past it the job is killed */
  maxOutputBytes: z.number().int().positive().max(64 * TiB).default(10 * GiB),
  /**
   * each job's disk beside /output: its code copy, /tmp and anything else it writes (the
   * container's root file system is read-only); a hard limit, as is /output's
   */
  scratchBytes: z.number().int().positive().max(64 * TiB).default(2 * GiB),
  /** files and folders a job may create in all (its disk's inodes), and that its code, inputs or home may hold */
  maxJobFiles: z.number().int().min(1000).max(100_000_000).default(500_000),
  /**
   * the container runtime: runsc (gVisor, a user-space kernel between jobs and the host's),
   * runc (namespaces and cgroups on the host's kernel), or auto: runsc when the Docker engine
   * has it, runc for GPU jobs (this gVisor cannot pass GPUs through)
   */
  runtime: z.enum(['auto', 'runsc', 'runc']).default('auto'),
  /** the most job inputs kept on disk, written out for mounting; least recently used go first */
  maxInputCacheBytes: z.number().int().positive().max(64 * TiB).default(20 * GiB),
  /** whether a job may bring an environment this node lacks (fetched by CID, then `docker load`ed) */
  acceptEnvironments: z.boolean().default(true),
  /** the most environments fetched for jobs may take (their sizes summed); least recently used go first */
  maxEnvironmentsBytes: z.number().int().positive().max(64 * TiB).default(20 * GiB),
  /** how long a finished job's output stays here for its client to pick up */
  keepOutputSeconds: z.number().int().positive().max(366 * 24 * 3600).default(24 * 3600),
  /** how often a running job's usage is stated to its client (protocol/billing/metering.ts) */
  meteringSeconds: z.number().int().min(1).max(600).default(10),
  /** how long without a voucher before a metered job is paused; after as long again it is stopped */
  voucherGraceSeconds: z.number().int().min(1).max(24 * 3600).default(30)
}).strict()
export type ProviderSettings = z.infer<typeof ProviderSettings>

