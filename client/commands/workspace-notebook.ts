import type { Command } from 'commander'
import { printJson, printLines } from '../output.js'
import { expandJobRef } from '../project-link.js'
import { action } from './action.js'
import { openInBrowser } from './node.js'
import { waitWhileStarting } from './workspace-wait.js'

/**
 * Jupyter workspaces, the CLI's side: `floe workspace start --jupyter/--no-jupyter` (the
 * option, added to `start` by addNotebookOption) and `floe workspace open WS`: the URL of its
 * notebook (the same the web UI's "Open notebook" button opens), served by this daemon on a
 * loopback origin of its own, with the notebook's token.
 */
export function addNotebookOption (start: Command): Command {
  return start
    .option('--jupyter', 'start a Jupyter notebook server in it (the default when its environment has one); open it with floe workspace open')
    .option('--no-jupyter', 'no notebook server, even when its environment has one')
}

/** The API's mode from commander's `--jupyter`/`--no-jupyter`: true, false or (neither) undefined. */
export function notebookMode (jupyter: unknown): 'auto' | 'on' | 'off' {
  return jupyter === true ? 'on' : jupyter === false ? 'off' : 'auto'
}

/** How long `floe workspace open` waits for a workspace, then its notebook, to start. */
const OPEN_WAIT_MS = 120_000

export function addNotebookCommands (workspace: Command): void {
  workspace.command('open')
    .description("print the URL of a Jupyter workspace's notebook (served by this daemon, with the notebook's own token); --browser opens it")
    .argument('<ws>')
    .option('--browser', 'open it in the desktop browser too')
    .action(action(async (client, args, opts) => {
      const ref = await expandJobRef(args[0] ?? '')
      // a workspace, then its notebook, still starting is waited for (said on stderr), not refused
      const deadline = Date.now() + OPEN_WAIT_MS
      await waitWhileStarting(client, ref, deadline)
      let notebook: { url: string } | undefined
      for (let said = false; notebook == null;) {
        try {
          notebook = await client.call('workspaceNotebook', { ref })
        } catch (err: any) {
          if (err?.name !== 'NotebookStartingError' || Date.now() > deadline) throw err
          if (!said) process.stderr.write(`floe: ${ref}: its notebook is starting; waiting for it to answer\n`)
          said = true
          await new Promise(resolve => setTimeout(resolve, 1000))
        }
      }
      if (opts.json === true) printJson(notebook)
      else printLines([notebook.url])
      if (opts.browser === true) openInBrowser(notebook.url)
    }))
}
