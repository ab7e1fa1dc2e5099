import type { ClassicLevel } from 'classic-level'
import type { Accelerator } from '../../protocol/environments/environment.js'

/**
 * Environments in the index DB:
 *   `env!NAME`        → an environment published or built here: name → image DAG (pinned `env:NAME`)
 *   `env-cache!CID`   → an environment fetched for a job (pinned `env-cache`), with when it was
 *                        last used: the provider's cache, trimmed least recently used first
 */
export type EnvironmentIndex = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'del' | 'iterator'>

export interface EnvironmentRecord {
  name: string
  /** the image DAG's root */
  cid: string
  imageId: string
  bytes: number
  layers: number
  accelerator: Accelerator
  description: string
  origin: 'published' | 'built' | 'pulled'
  /** what it was made from: an image reference, `ENV + apt …`, `recipe NAME` */
  source: string
  createdAt: number
  /** how long making it (build, pull, publish) took, in ms, when timed */
  buildMs?: number
}

export interface CachedEnvironment {
  cid: string
  name: string
  imageId: string
  bytes: number
  accelerator: Accelerator
  description: string
  layers: number
  loadedAt: number
  lastUsedAt: number
}

const RECORD = 'env!'
const CACHE = 'env-cache!'

/** JSON values under `prefix`, each keyed by `keyOf(value)`; puts and deletes are synced. */
function jsonMap<T> (index: EnvironmentIndex, prefix: string, keyOf: (value: T) => string) {
  return {
    async get (key: string): Promise<T | undefined> {
      const value = await index.get(prefix + key)
      return value == null ? undefined : JSON.parse(value) as T
    },
    async put (value: T): Promise<void> {
      await index.put(prefix + keyOf(value), JSON.stringify(value), { sync: true })
    },
    async del (key: string): Promise<void> {
      await index.del(prefix + key, { sync: true })
    },
    async all (): Promise<T[]> {
      const all: T[] = []
      for await (const [, value] of index.iterator({ gte: prefix, lt: `${prefix}\xff` })) all.push(JSON.parse(value) as T)
      return all
    }
  }
}

/** Environments published or built here (by name), and those fetched for jobs (`cache`, by image CID). */
export function environmentRecords (index: EnvironmentIndex) {
  return {
    ...jsonMap<EnvironmentRecord>(index, RECORD, record => record.name),
    cache: jsonMap<CachedEnvironment>(index, CACHE, entry => entry.cid)
  }
}

export type EnvironmentRecords = ReturnType<typeof environmentRecords>
