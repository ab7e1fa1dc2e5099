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
  for (const id of left) {
    // a provider killed while removing one leaves the engine finishing that removal
    await exec('docker', ['rm', '-f', id]).catch(async (err: Error) => {
      if (!/already in progress|No such container/.test(err.message)) throw err
      for (let deadline = Date.now() + 30_000; Date.now() < deadline && (await exec('docker', ['ps', '-a', '-q', '--filter', `id=${id}`])).stdout.trim() !== '';) {
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    })
  }
  return left
}
