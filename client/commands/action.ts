import { homedir } from 'node:os'
import type { Command } from 'commander'
import { resolveHome } from '../../protocol/home.js'
import type { ApiClient } from '../api-client.js'
import { clientForHome } from '../home-client.js'
import { explainApiError } from '../usage-errors.js'

export interface GlobalOptions {
  home?: string
  json?: boolean
}

export type Options = GlobalOptions & Record<string, any>

/**
 * Wraps a command's action: finds the daemon from --home, runs the action, and turns any
 * failure into one line on stderr and exit code 1 (FLOE_DEBUG=1 adds the stack).
 */
export function action (run: (client: ApiClient, args: string[], opts: Options) => Promise<void>) {
  return async (...params: any[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command
    const opts = cmd.optsWithGlobals() as Options
    try {
      const client = await clientForHome(resolveHome(opts.home, process.env, homedir()))
      await run(client, cmd.args, opts)
    } catch (err: any) {
      process.stderr.write(`floe ${commandPath(cmd)}: ${await explainApiError(err)}\n`)
      if (process.env.FLOE_DEBUG === '1' && err?.stack != null) process.stderr.write(err.stack + '\n')
      process.exitCode = 1
    }
  }
}

/** `data upload` for a subcommand, `id` for a top-level one. */
function commandPath (cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}
