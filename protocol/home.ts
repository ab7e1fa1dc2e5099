import { join, resolve } from 'node:path'
import { z } from 'zod'

/**
 * The daemon's home is the contract between the daemon and the CLI: the daemon writes its
 * API endpoint and token there, the CLI finds them from the home alone. Pure path logic,
 * no I/O.
 */
export const FLOE_HOME_ENV = 'FLOE_HOME'

export function resolveHome (flag: string | undefined, env: NodeJS.ProcessEnv, homedir: string): string {
  const chosen = flag ?? env[FLOE_HOME_ENV] ?? join(homedir, '.floe')
  return resolve(chosen)
}

export interface HomePaths {
  root: string
  config: string
  identity: string
  apiToken: string
  apiEndpoint: string
  lock: string
  logs: string
  daemonLog: string
}

export function homePaths (home: string): HomePaths {
  return {
    root: home,
    config: join(home, 'config.json'),
    identity: join(home, 'identity.key'),
    apiToken: join(home, 'api-token'),
    apiEndpoint: join(home, 'api.json'),
    lock: join(home, 'lock'),
    logs: join(home, 'logs'),
    daemonLog: join(home, 'logs', 'daemon.log')
  }
}

/** What a running daemon writes to `api.json`; removed when it stops. */
export const ApiEndpoint = z.object({
  url: z.string().url(),
  pid: z.number().int().positive(),
  peerId: z.string(),
  startedAt: z.string()
})
export type ApiEndpoint = z.infer<typeof ApiEndpoint>
