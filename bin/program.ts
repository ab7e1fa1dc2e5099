import { Command } from 'commander'
import { clientCommands } from '../client/cli.js'
import { explainUsageErrors } from '../client/usage-errors.js'
import { daemonCommand } from '../daemon/cli.js'
import { FLOE_VERSION } from '../protocol/version.js'

/**
 * The whole `floe` command tree, built without running anything: `bin/floe.ts` parses the
 * command line with it, and `scripts/docs-gen/` walks it to write docs/cli.md. Commands load
 * what they need only when they run, so building it stays cheap.
 */
export function floeProgram (): Command {
  const program = new Command('floe')
    .description('floe: a peer-to-peer compute marketplace for machine learning')
    .version(FLOE_VERSION)
    .option('--home <dir>', "the daemon's home (default: $FLOE_HOME, else ~/.floe)")
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
  program.addCommand(daemonCommand())
  for (const command of clientCommands()) program.addCommand(command)
  explainUsageErrors(program)
  return program
}
