import type { Command } from 'commander'
import { dataCommand } from './commands/data.js'
import { envCommand } from './commands/env.js'
import { jobCommands } from './commands/jobs.js'
import { jobManageCommands } from './commands/job-manage.js'
import { marketCommands } from './commands/market.js'
import { nodeCommands } from './commands/node.js'
import { projectCommands } from './commands/projects.js'
import { workspaceCommands } from './commands/workspaces.js'
import { serveCommand } from './commands/serve.js'
import { repoCommands } from './commands/repo.js'
import { billingCommand } from './commands/billing.js'
import { tasksCommand } from './commands/run-config.js'

/** Every command the CLI serves through the daemon's HTTP API. */
export function clientCommands (): Command[] {
  return [...nodeCommands(), dataCommand(), ...repoCommands(), ...marketCommands(), ...projectCommands(), ...jobCommands(), ...jobManageCommands(), ...workspaceCommands(), serveCommand(), envCommand(), billingCommand(), tasksCommand()]
}
