import { access, lstat, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { exportDag, type ExportBudget } from '../content/index.js'
import type { Logger } from '../log.js'
import { measureOutput } from './output-size.js'

/**
 * Job inputs written out once per CID, under `<root>/<cid>`, and bind-mounted read-only into
 * every job that names them. A CID names its bytes, so an entry never goes stale; it is
 * written beside its place and renamed in (exportDag), so a crash leaves no half entry.
 * Entries in use by a job are held; when the cache grows past `maxBytes`, the least recently
 * used of the others go first.
 */
export function inputCache (root: string, blockstore: Pick<Blockstore, 'get'>, options: { maxBytes: () => number, maxEntries: () => number, log: Pick<Logger, 'info' | 'warn'> }) {
  const pending = new Map<string, Promise<string>>()
  const users = new Map<string, number>()
  const lastUsed = new Map<string, number>()

  const write = async (cid: CID, signal?: AbortSignal): Promise<string> => {
    const path = join(root, cid.toString())
    try {
      await access(path)
    } catch {
      // One input may take the whole cache, never more: checked on its declared size before
      // writing and on the bytes written while writing (a DAG bomb is refused, not expanded).
      const budget: ExportBudget = { maxBytes: options.maxBytes(), maxEntries: options.maxEntries() }
      await exportDag(blockstore, cid, path, { signal, budget })
    }
    return path
  }

  const release = (cid: CID): void => {
    const key = cid.toString()
    const left = (users.get(key) ?? 1) - 1
    if (left > 0) users.set(key, left)
    else users.delete(key)
    lastUsed.set(key, Date.now())
  }

  const sizeOf = async (path: string): Promise<number> => {
    const stats = await lstat(path)
    return stats.isDirectory() ? await measureOutput(path) : stats.size
  }

  return {
    /** the host path holding the content of `cid`, written when not yet there; held until `release` */
    async acquire (cid: CID, signal?: AbortSignal): Promise<string> {
      const key = cid.toString()
      users.set(key, (users.get(key) ?? 0) + 1)
      try {
        let entry = pending.get(key)
        if (entry == null) {
          entry = write(cid, signal).finally(() => { pending.delete(key) })
          pending.set(key, entry)
        }
        return await entry
      } catch (err) {
        release(cid)
        throw err
      }
    },
    release,
    /** Removes least recently used entries no job holds until the cache fits its budget. */
    async evict (): Promise<{ removed: string[], bytes: number }> {
      const entries: Array<{ name: string, bytes: number, used: number }> = []
      for (const name of await readdir(root).catch(() => [] as string[])) {
        if (name.startsWith('.')) continue // an entry being written (exportDag's staging)
        const path = join(root, name)
        try {
          entries.push({ name, bytes: await sizeOf(path), used: lastUsed.get(name) ?? (await lstat(path)).mtimeMs })
        } catch (err: any) {
          if (err?.code !== 'ENOENT') throw err
        }
      }
      let bytes = entries.reduce((sum, entry) => sum + entry.bytes, 0)
      const removed: string[] = []
      const budget = options.maxBytes()
      for (const entry of entries.sort((a, b) => a.used - b.used)) {
        if (bytes <= budget) break
        if (users.has(entry.name) || pending.has(entry.name)) continue
        await rm(join(root, entry.name), { recursive: true, force: true })
        lastUsed.delete(entry.name)
        bytes -= entry.bytes
        removed.push(entry.name)
      }
      if (removed.length > 0) options.log.info({ removed, bytes, budget }, 'input cache over its budget: least recently used inputs removed')
      return { removed, bytes }
    }
  }
}
