import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { DiskStatError } from './errors.js'

export interface DiskInfo {
  /** the path asked about */
  path: string
  /** what an unprivileged process may still write (blocks available, not blocks free: root's reserve is not ours to share) */
  freeBytes: number
  totalBytes: number
}

/**
 * Free space on the file system that holds `path`. A path not created yet (a fresh home) is
 * measured on its nearest existing parent: that is the file system it will be created on.
 */
export async function detectDisk (path: string): Promise<DiskInfo> {
  let probe = resolve(path)
  for (;;) {
    try {
      const stats = await statfs(probe)
      return { path, freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize }
    } catch (err: any) {
      const parent = dirname(probe)
      if (err?.code === 'ENOENT' && parent !== probe) {
        probe = parent
        continue
      }
      throw new DiskStatError(`could not read the free space of the file system holding ${path}: ${err?.message ?? err}`)
    }
  }
}
