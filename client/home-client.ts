import { readFile } from 'node:fs/promises'
import { ApiEndpoint, homePaths } from '../protocol/home.js'
import { createApiClient, type ApiClient } from './api-client.js'
import { nodeFetch } from './node-fetch.js'
import { DaemonNotRunningError } from './errors.js'

function notRunning (home: string, why: string): DaemonNotRunningError {
  return new DaemonNotRunningError(`no floe daemon is running for ${home} (${why}); start one with: floe daemon --home ${home}`)
}

/** Finds the daemon of a home from what it wrote there: its API endpoint and token. */
export async function clientForHome (home: string): Promise<ApiClient> {
  const paths = homePaths(home)
  let endpoint: ApiEndpoint
  try {
    endpoint = ApiEndpoint.parse(JSON.parse(await readFile(paths.apiEndpoint, 'utf8')))
  } catch (err: any) {
    throw notRunning(home, err?.code === 'ENOENT' ? 'no api.json there' : `api.json is unreadable: ${err?.message ?? err}`)
  }
  let token: string
  try {
    token = (await readFile(paths.apiToken, 'utf8')).trim()
  } catch (err: any) {
    throw notRunning(home, `cannot read its API token: ${err?.message ?? err}`)
  }
  const client = createApiClient({ url: endpoint.url, token, fetch: nodeFetch })
  return {
    url: client.url,
    token,
    async call (name, input, options) {
      try {
        return await client.call(name, input, options)
      } catch (err: any) {
        if (err?.name === 'DaemonNotRunningError') throw notRunning(home, `nothing answers at ${endpoint.url}; pid ${endpoint.pid} has probably exited`)
        throw err
      }
    }
  }
}
