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
 * Removes containers by id (`docker rm -f`), waiting out what the engine is still finishing:
 * a removal already under way (a provider killed while removing one), or a process the engine
 * cannot kill yet (a zombie, seen under gVisor on a loaded machine). Up to 30 s, then throws.
 */
export async function removeContainers (ids: string[]): Promise<void> {
  for (const id of ids) {
    for (let deadline = Date.now() + 30_000; ;) {
      try {
        await exec('docker', ['rm', '-f', id])
        break
      } catch (err: any) {
        if (/No such container/.test(err.message)) break
        if (!/already in progress|zombie|cannot remove/.test(err.message) || Date.now() > deadline) throw err
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    }
  }
}

/**
 * For a file's afterAll: the containers its daemons left behind, removed (so the next file
 * starts clean) and returned for the test to assert there were none.
 */
export async function removeLeftContainers (peers: Iterable<string>): Promise<string[]> {
  const left = await containersOf(peers)
  await removeContainers(left)
  return left
}
