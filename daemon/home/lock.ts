import { readFile } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import { ApiEndpoint, homePaths } from '../../protocol/home.js'
import { HomeLockedError } from './errors.js'

export interface HomeLock {
  release(): Promise<void>
}

/**
 * Takes the home for this process. The lock is LevelDB's own (an fcntl lock on `lock/LOCK`):
 * the kernel drops it when the process dies, so a crashed daemon never leaves a stale lock,
 * and a second daemon — in this process or another — is refused while the first lives.
 */
export async function lockHome (home: string): Promise<HomeLock> {
  const paths = homePaths(home)
  const db = new ClassicLevel(paths.lock, { createIfMissing: true })
  try {
    await db.open()
  } catch (err: any) {
    if (err?.cause?.code === 'LEVEL_LOCKED') {
      throw new HomeLockedError(`another floe daemon is using the home ${home}${await describeHolder(paths.apiEndpoint)}; stop it first, or start this one with another --home`)
    }
    throw err
  }
  return {
    async release () {
      await db.close()
    }
  }
}

async function describeHolder (endpointFile: string): Promise<string> {
  try {
    const endpoint = ApiEndpoint.parse(JSON.parse(await readFile(endpointFile, 'utf8')))
    return ` (pid ${endpoint.pid}, API ${endpoint.url})`
  } catch {
    // The holder may still be starting and not have written its endpoint yet.
    return ''
  }
}
