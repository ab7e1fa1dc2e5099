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
  origin: 'published' | 'built'
  /** what it was made from: an image reference, `ENV + apt …`, `recipe NAME` */
  source: string
  createdAt: number
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

export const PUBLISHED_PIN = (name: string): string => `env:${name}`
export const CACHE_PIN = 'env-cache'

async function * values<T> (index: EnvironmentIndex, prefix: string): AsyncGenerator<T> {
  for await (const [, value] of index.iterator({ gte: prefix, lt: `${prefix}\xff` })) yield JSON.parse(value) as T
}

export function environmentRecords (index: EnvironmentIndex) {
  return {
    async get (name: string): Promise<EnvironmentRecord | undefined> {
      const value = await index.get(RECORD + name)
      return value == null ? undefined : JSON.parse(value) as EnvironmentRecord
    },
    async put (record: EnvironmentRecord): Promise<void> {
      await index.put(RECORD + record.name, JSON.stringify(record), { sync: true })
    },
    async del (name: string): Promise<void> {
      await index.del(RECORD + name, { sync: true })
    },
    async all (): Promise<EnvironmentRecord[]> {
      const all: EnvironmentRecord[] = []
      for await (const record of values<EnvironmentRecord>(index, RECORD)) all.push(record)
      return all
    },
    cache: {
      async get (cid: string): Promise<CachedEnvironment | undefined> {
        const value = await index.get(CACHE + cid)
        return value == null ? undefined : JSON.parse(value) as CachedEnvironment
      },
      async put (entry: CachedEnvironment): Promise<void> {
        await index.put(CACHE + entry.cid, JSON.stringify(entry), { sync: true })
      },
      async del (cid: string): Promise<void> {
        await index.del(CACHE + cid, { sync: true })
      },
      async all (): Promise<CachedEnvironment[]> {
        const all: CachedEnvironment[] = []
        for await (const entry of values<CachedEnvironment>(index, CACHE)) all.push(entry)
        return all
      }
    }
  }
}

export type EnvironmentRecords = ReturnType<typeof environmentRecords>
