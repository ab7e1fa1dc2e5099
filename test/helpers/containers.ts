import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** The containers (ids) that jobs of these client daemons ran, by floe's client label. */
export async function containersOf (peers: Iterable<string>): Promise<string[]> {
  const ids: string[] = []
  for (const peer of peers) {
    const { stdout } = await exec('docker', ['ps', '-a', '-q', '--filter', `label=org.floe.client=${peer}`])
    ids.push(...stdout.split('\n').filter(line => line !== ''))
  }
  return ids
}

/**
 * For a file's afterAll: the containers its daemons left behind, removed (so the next file
 * starts clean) and returned for the test to assert there were none.
 */
export async function removeLeftContainers (peers: Iterable<string>): Promise<string[]> {
  const left = await containersOf(peers)
  if (left.length > 0) await exec('docker', ['rm', '-f', ...left])
  return left
}
