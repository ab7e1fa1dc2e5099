import { resolve } from 'node:path'
import { Command } from 'commander'
import type { JobView } from '../../protocol/jobs/view.js'
import { parseDuration } from '../../protocol/market/requirements.js'
import { ago, idleCountdown, money, shortPeer } from '../../protocol/format.js'
import { printJson, printLines, printTable } from '../output.js'
import { parseWorkspaceRef, workspaceRef } from '../../protocol/workspaces/identity.js'
import { expandDataRef, expandJobRef, findProjectLink } from '../project-link.js'
import { runShell } from '../shell.js'
import { action } from './action.js'
import { requirementChanges, requirementsOf } from './job-options.js'
import { parseDataMount } from './jobs.js'
import { addNotebookCommands, addNotebookOption, notebookMode } from './workspace-notebook.js'
import { waitWhileStarting } from './workspace-wait.js'

/** How long `floe shell` waits for a workspace still starting. */
const START_WAIT_MS = 120_000

/** The workspace's own ref: `PROJECT/ws/NAME` (a run from before names: its job). */
function nameOf (ws: JobView): string {
  return ws.message !== '' && parseWorkspaceRef(ws.message) != null ? workspaceRef(ws.project, ws.message) : ws.ref
}
/** What to type to reach it from here: its NAME (or job ref for one from before names) */
function handleOf (ws: JobView): string {
  return ws.message !== '' && parseWorkspaceRef(ws.message) != null ? ws.message : ws.ref
}

function describe (ws: JobView): string {
  return `${nameOf(ws)} (run ${ws.ref}) ${ws.state}${ws.provider != null ? ` on ${shortPeer(ws.provider)}` : ''}${ws.reason != null ? ` (${ws.reason})` : ''}${ws.outputCid != null ? `; home saved as ${ws.outputCid}` : ''}`
}

export function workspaceCommands (): Command[] {
  const workspace = new Command('workspace').description('workspaces: containers kept running on a provider, reached by terminals and forwarded ports; the home (/home/floe) is saved when they stop')

  const start = workspace.command('start')
    .description('start a new workspace on the best provider (the current folder, --path or --git is its /code); its NAME reaches it for its whole life')
    .argument('[name]', 'its name, unique in the project: a letter first, then letters, digits, . _ - (default: the first free wsN)', '')
    .option('--env <name>', 'environment', 'busybox')
    .option('--cpu <n>', 'CPU cores', '1')
    .option('--memory <size>', 'memory, e.g. 4g', '1g')
    .option('--gpu <n>', 'GPUs', '0')
    .option('--data <ref:mount>', 'mount a dataset or a job output read-only; repeatable', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--max-price <credits>', 'most to pay per hour')
    .option('--provider <peer>', 'run on this provider only')
    .option('--idle-timeout <duration>', 'stop (and save) after this long without terminal or port traffic', '1h')
    .option('--snapshot-every <duration>', 'save the home and /code this often while it runs', '10m')
    .option('--max-duration <duration>', 'the most it may run', '8h')
    .option('--path <dir>', 'the code folder (default: the current folder)')
    .option('--git <url>', "the code from a git repository instead: a depth-1 clone by this node's daemon (no submodules, no hooks run)")
    .option('--ref <branch|tag|commit>', 'with --git: the branch, tag or full commit id (default: the default branch)')
    .option('--project <project>', "the project (default: the folder's)")
  addNotebookOption(start)
    .action(action(async (client, args, opts) => {
      if (opts.git != null && opts.path != null) throw new Error('give the code as --path or --git, not both')
      if (opts.ref != null && opts.git == null) throw new Error('--ref names a branch, tag or commit of --git URL; give --git too')
      const path = resolve(opts.path ?? '.')
      const project = opts.project ?? (await findProjectLink(path))?.id
      // the same one-line errors as floe run's (--gpu abc: expected a whole number, e.g. --gpu 1)
      const shape = requirementsOf({ cpu: opts.cpu, memory: opts.memory, gpu: opts.gpu })
      const ws = await client.call('workspaceStart', {
        name: args[0] ?? '',
        ...(opts.git != null ? { git: { url: opts.git, ...(opts.ref != null ? { ref: opts.ref } : {}) } } : { path }),
        environment: opts.env,
        requirements: { cpus: shape.cpus, memoryBytes: shape.memoryBytes, gpus: shape.gpus },
        data: await Promise.all((opts.data as string[]).map(parseDataMount).map(async d => ({ ...d, ref: await expandDataRef(d.ref, path) }))),
        ...(opts.maxPrice != null ? { maxPricePerHour: Number(opts.maxPrice) } : {}),
        ...(opts.provider != null ? { provider: opts.provider } : {}),
        ...(project != null ? { project } : {}),
        timeoutSeconds: parseDuration(opts.maxDuration),
        idleTimeoutSeconds: parseDuration(opts.idleTimeout),
        snapshotSeconds: parseDuration(opts.snapshotEvery),
        jupyter: notebookMode(opts.jupyter)
      })
      if (opts.json === true) return printJson(ws)
      printLines([`${nameOf(ws)} ${ws.state} (run ${ws.ref})`, `open a terminal with: floe shell ${handleOf(ws)}`, ...(opts.jupyter !== false ? [`open its notebook (when its environment has Jupyter) with: floe workspace open ${handleOf(ws)}`] : [])])
    }))

  workspace.command('ls')
    .description("this node's workspaces (one row each: its latest run) and forwarded ports")
    .action(action(async (client, _args, opts) => {
      const { workspaces, ports } = await client.call('workspaceList', {})
      if (opts.json === true) return printJson({ workspaces, ports })
      if (workspaces.length === 0) return printLines(['no workspaces yet; start one with: floe workspace start NAME'])
      printTable(['WORKSPACE', 'RUN', 'STATUS', 'PROVIDER', 'STARTED', 'IDLE STOP', 'PRICE/H', 'HOME', 'PORTS'], workspaces.map(ws => [
        nameOf(ws), ws.ref, ws.state, ws.provider == null ? '-' : shortPeer(ws.provider), ago(ws.createdAt), idleCountdown(ws),
        ws.pricePerHour == null ? '-' : money(ws.pricePerHour), ws.outputCid ?? ws.homeCid ?? '-',
        ports.filter(p => p.ref === ws.ref).map(p => `${p.host}:${p.local}→${p.remote}`).join(' ') || '-'
      ]))
    }))

  workspace.command('save')
    .description("save a running workspace's home (and /code) now, as its periodic saves do; prints the saved CID (its provider saves on request at most once every 10 s)")
    .argument('<ws>', 'its NAME or PROJECT/ws/NAME')
    .action(action(async (client, args, opts) => {
      const saved = await client.call('workspaceSave', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(saved)
      printLines([`${args[0] ?? ''} (run ${saved.job}): home saved as ${saved.home} (${saved.bytes} bytes) at ${saved.savedAt}`, `write it out with: floe data get ${saved.home} DEST`])
    }))

  workspace.command('history')
    .description("a workspace's runs, oldest first: each start or restart, its provider, when it ran, why it ended, the home (and /code) it saved")
    .argument('<ws>', 'its NAME, PROJECT/ws/NAME, or any of its runs')
    .action(action(async (client, args, opts) => {
      const history = await client.call('workspaceHistory', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(history)
      printLines([`${history.workspace}: ${history.runs.length} run${history.runs.length === 1 ? '' : 's'}`])
      printTable(['RUN', 'STATUS', 'PROVIDER', 'STARTED', 'ENDED', 'WHY', 'SAVED'], history.runs.map(run => [
        run.job, run.state, run.provider == null ? '-' : shortPeer(run.provider), run.startedAt, run.endedAt ?? '-', run.reason ?? '-', run.home ?? '-'
      ]))
    }))

  workspace.command('stop')
    .description('stop a workspace: its home and /code are saved (as its output) and its charge ends')
    .argument('<ws>', 'its NAME or PROJECT/ws/NAME')
    .action(action(async (client, args, opts) => {
      const ws = await client.call('jobStop', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(ws)
      printLines([describe(ws)])
    }))

  workspace.command('restart')
    .description('continue a workspace (same name, a new run in its history) with its home and /code restored, here or on another provider (e.g. one with a GPU); a running one is stopped first')
    .argument('<ws>', 'its NAME or PROJECT/ws/NAME')
    .option('--env <name>', 'environment')
    .option('--cpu <n>', 'CPU cores')
    .option('--memory <size>', 'memory')
    .option('--gpu <n>', 'GPUs')
    .option('--gpu-model <model>', 'GPU model')
    .option('--provider <peer>', 'this provider only')
    .option('--max-price <credits>', 'most to pay per hour')
    .action(action(async (client, args, opts) => {
      const ws = await client.call('workspaceRestart', {
        ref: await expandJobRef(args[0] ?? ''),
        ...(opts.env != null ? { environment: opts.env } : {}),
        ...requirementChanges(opts),
        ...(opts.provider != null ? { provider: opts.provider } : {}),
        ...(opts.maxPrice != null ? { maxPricePerHour: Number(opts.maxPrice) } : {})
      })
      if (opts.json === true) return printJson(ws)
      printLines([`${nameOf(ws)} ${ws.state} (run ${ws.ref})${ws.spec.workspace?.home != null ? `, home from ${ws.spec.workspace.home}` : ''}`, `open a terminal with: floe shell ${handleOf(ws)}`])
    }))

  workspace.command('port')
    .description("forward a loopback port here to a port inside a running workspace (e.g. JupyterLab's 8888)")
    .argument('<ws>', 'its NAME or PROJECT/ws/NAME')
    .argument('<port>', 'the port inside the workspace')
    .option('--local <port>', 'the port here (default: any free one)')
    .action(action(async (client, args, opts) => {
      const forward = await client.call('workspacePort', { ref: await expandJobRef(args[0] ?? ''), port: Number(args[1]), ...(opts.local != null ? { local: Number(opts.local) } : {}) })
      if (opts.json === true) return printJson(forward)
      printLines([`http://${forward.host}:${forward.local}/ → port ${forward.remote} in ${forward.ref} (until it stops)`])
    }))

  // Jupyter workspaces: floe workspace open (client/commands/workspace-notebook.ts)
  addNotebookCommands(workspace)

  const shell = new Command('shell')
    .description("a terminal in a running workspace (its shell, or COMMAND after --); exits with the command's status")
    .argument('<ws>', 'its NAME or PROJECT/ws/NAME')
    .argument('[command...]', 'run this instead of the shell (after --)')
    .option('--detach', 'run COMMAND in the background (no terminal; output appended to ~/.floe/bg-ID.log): it outlives this command and ends with the workspace')
    .action(action(async (client, args, opts) => {
      const [ref, ...command] = args
      const target = await expandJobRef(ref ?? '')
      // a workspace still starting is waited for (its state on stderr), not refused
      const deadline = Date.now() + START_WAIT_MS
      await waitWhileStarting(client, target, deadline)
      if (opts.detach === true) {
        if (command.length === 0) throw new Error('--detach needs a command after --, e.g. floe shell WS --detach -- python serve.py')
        const started = await client.call('workspaceDetach', { ref: target, command })
        if (opts.json === true) return printJson(started)
        printLines([`${started.id} running in ${started.ref}; its output goes to ${started.log}`])
        return
      }
      process.exitCode = await runShell(client, target, command.length > 0 ? command : null)
    }))

  return [workspace, shell]
}


