import type { ApiClient } from '../api-client.js'

/** States a workspace passes through before it runs. */
const STARTING = new Set(['queued', 'matching', 'preparing'])

/**
 * Waits while the workspace `ref` is still starting (its state said on stderr each second),
 * until `deadline` (ms since the epoch): `floe shell` and `floe workspace open` wait for a
 * workspace just started rather than refuse it.
 */
export async function waitWhileStarting (client: ApiClient, ref: string, deadline: number): Promise<void> {
  for (let job = await client.call('jobShow', { ref }); STARTING.has(job.state) && Date.now() < deadline; job = await client.call('jobShow', { ref })) {
    process.stderr.write(`floe: ${job.ref} is ${job.state}; waiting for it to run\n`)
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}
