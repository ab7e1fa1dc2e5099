import { readRunConfig } from '../jobs/run-config-file.js'
import type { ApiHandlers } from './server.js'

/** The run config route's operation: the folder's floe.yml / floyd.yml, parsed. */
export function runConfigHandlers (): Pick<ApiHandlers, 'runConfig'> {
  return {
    runConfig: async ({ path }) => ({ folder: path, config: await readRunConfig(path) })
  }
}
