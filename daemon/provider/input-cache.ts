import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { exportDag } from '../content/index.js'

/**
 * Job inputs written out once per CID, under `<root>/<cid>`, and bind-mounted read-only into
 * every job that names them. A CID names its bytes, so an entry never goes stale; it is
 * written beside its place and renamed in (exportDag), so a crash leaves no half entry.
 */
export function inputCache (root: string, blockstore: Pick<Blockstore, 'get'>) {
  const pending = new Map<string, Promise<string>>()
  const write = async (cid: CID, signal?: AbortSignal): Promise<string> => {
    const path = join(root, cid.toString())
    try {
      await access(path)
      return path
    } catch {
      await exportDag(blockstore, cid, path, { signal })
      return path
    }
  }
  return {
    /** the host path holding the content of `cid`, written when not yet there */
    async path (cid: CID, signal?: AbortSignal): Promise<string> {
      const key = cid.toString()
      let entry = pending.get(key)
      if (entry == null) {
        entry = write(cid, signal).finally(() => { pending.delete(key) })
        pending.set(key, entry)
      }
      return await entry
    }
  }
}
