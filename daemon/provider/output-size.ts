import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The total size of the files under `dir`, walked without following symbolic links (a link
 * counts as its own few bytes, so a job cannot make the daemon measure, or later read, a
 * host file through one). A file or folder the job removes while it is walked is skipped.
 */
export async function measureOutput (dir: string): Promise<number> {
  let total = 0
  const folders = [dir]
  for (let folder = folders.pop(); folder != null; folder = folders.pop()) {
    const entries = await ifPresent(readdir(folder, { withFileTypes: true }))
    for (const entry of entries ?? []) {
      const path = join(folder, entry.name)
      if (entry.isDirectory()) {
        folders.push(path)
        continue
      }
      const stats = await ifPresent(lstat(path))
      total += stats?.size ?? 0
    }
  }
  return total
}

/** The value, or undefined when the path vanished meanwhile (the job is still writing); other errors propagate. */
async function ifPresent<T> (operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
}
