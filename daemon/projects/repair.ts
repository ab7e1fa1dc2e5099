import { readFile } from 'node:fs/promises'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'
import { decodeEntry, entryCid, MAX_ENTRY_BYTES } from '../../protocol/projects/entry.js'
import { blockKey } from '../store/dag-walk.js'
import { blockFiles } from '../store/repo.js'
import type { ProjectLog, Received } from './project-log.js'

export interface RepairReport {
  /** entries found in the block store */
  found: number
  /** entries the rebuilt views hold */
  kept: number
  /** entries found that did not check out, with why */
  refused: Array<{ cid: string, reason: string }>
  projects: number
  /** entries the index held before the rebuild */
  before: number
}

/**
 * `floe repair`: rebuilds every project view from the block store alone. Every block small
 * enough to be an entry is read and decoded (its bytes must hash to its name); the entries
 * are checked and taken in again as if received, oldest clock first.
 */
export async function repairProjects (components: { log: ProjectLog, blocksPath: string, sharding: ShardingStrategy }, options: { signal?: AbortSignal, onProgress?: (found: number) => void } = {}): Promise<RepairReport> {
  let before = 0
  for (const project of await components.log.all()) before += (await components.log.state(project.id)).seq
  const entries: Array<{ cid: CID, bytes: Uint8Array, clock: number }> = []
  for await (const file of blockFiles(components.sharding, components.blocksPath)) {
    options.signal?.throwIfAborted()
    if (file.key == null || file.size > MAX_ENTRY_BYTES || file.size === 0) continue
    let bytes: Uint8Array
    try {
      bytes = await readFile(file.path)
    } catch (err: any) {
      if (err?.code === 'ENOENT') continue
      throw err
    }
    let clock: number
    try {
      clock = decodeEntry(bytes).clock
    } catch {
      continue // not an entry: a block of some other content
    }
    const cid = await entryCid(bytes)
    if (blockKey(cid) !== file.key) continue // the file's bytes do not hash to its name: corrupt, not an entry
    entries.push({ cid, bytes, clock })
    options.onProgress?.(entries.length)
  }
  const result: Received = await components.log.rebuild(entries)
  return { found: entries.length, kept: result.added, refused: result.refused, projects: (await components.log.all()).length, before }
}
