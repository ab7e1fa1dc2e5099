import { z } from 'zod'
import { RunConfig } from '../jobs/run-settings.js'
import { defineRoute } from './route.js'
import { AbsolutePath } from './schemas.js'

const PREFIX = '/api/v1'

/** Routes of run config files (floe.yml / floyd.yml in a code folder). */
export const runConfigRoutes = {
  runConfig: defineRoute({
    method: 'GET',
    path: `${PREFIX}/run-config`,
    summary: "a code folder's run config (floe.yml, else floyd.yml): its defaults and tasks, or null when it has none; a file that does not parse is an error naming its line",
    input: z.object({ path: AbsolutePath }).strict(),
    output: z.object({ folder: z.string(), config: RunConfig.nullable() })
  })
} as const
