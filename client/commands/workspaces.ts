import { resolve } from 'node:path'
import { Command } from 'commander'
import type { JobView } from '../../protocol/jobs/view.js'
import { parseDuration, parseSize } from '../../protocol/market/requirements.js'
import { ago, money, shortPeer } from '../../protocol/format.js'
import { printJson, printLines, printTable } from '../output.js'
import { expandJobRef, findProjectLink } from '../project-link.js'
import { runShell } from '../shell.js'
import { action } from './action.js'
import { requirementChanges } from './job-options.js'
import { parseDataMount } from './jobs.js'
import { addNotebookCommands, addNotebookOption, notebookMode } from './workspace-notebook.js'

/** States a workspace passes through before it runs, and how long `floe shell` waits on them. */
const STARTING = new Set(['queued', 'matching', 'preparing'])
const START_WAIT_MS = 120_000

function describe (ws: JobView): string {
  return `${ws.ref} ${ws.state}${ws.provider != null ? ` on ${shortPeer(ws.provider)}` : ''}${ws.reason != null ? ` (${ws.reason})` : ''}${ws.outputCid != null ? `; home saved as ${ws.outputCid}` : ''}`
}

export function workspaceCommands (): Command[] {
  const workspace = new Command('workspace').description('workspaces: containers kept running on a provider, reached by terminals and forwarded ports; the home (/home/floe) is saved when they stop')

  const start = workspace.command('start')
    .description('start a workspace on the best provider (the current folder is its /code)')
    .argument('[name]', 'a name for it', '')
    .option('--env <name>', 'environment', 'busybox')
    .option('--cpu <n>', 'CPU cores', '1')
    .option('--memory <size>', 'memory, e.g. 4g', '1g')
    .option('--gpu <n>', 'GPUs', '0')
    .option('--data <ref:mount>', 'mount a dataset or a job output read-only; repeatable', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--max-price <credits>', 'most to pay per hour')
    .option('--provider <peer>', 'run on this provider only')
    .option('--idle-timeout <duration>', 'stop (and save) after this long without terminal or port traffic', '1h')
    .option('--snapshot-every <duration>', 'save the home this often while it runs', '10m')
    .option('--max-duration <duration>', 'the most it may run', '8h')
    .option('--path <dir>', 'the code folder (default: the current folder)')
    .option('--project <project>', "the project (default: the folder's)")
  addNotebookOption(start)
    .action(action(async (client, args, opts) => {
      const path = resolve(opts.path ?? '.')
      const project = opts.project ?? (await findProjectLink(path))?.id
      const ws = await client.call('workspaceStart', {
        name: args[0] ?? '',
        path,
        environment: opts.env,
        requirements: { cpus: Number(opts.cpu), memoryBytes: parseSize(opts.memory), gpus: Number(opts.gpu) },
        data: await Promise.all((opts.data as string[]).map(parseDataMount).map(async d => ({ ...d, ref: await expandJobRef(d.ref, path) }))),
        ...(opts.maxPrice != null ? { maxPricePerHour: Number(opts.maxPrice) } : {}),
        ...(opts.provider != null ? { provider: opts.provider } : {}),
        ...(project != null ? { project } : {}),
        timeoutSeconds: parseDuration(opts.maxDuration),
        idleTimeoutSeconds: parseDuration(opts.idleTimeout),
        snapshotSeconds: parseDuration(opts.snapshotEvery),
        jupyter: notebookMode(opts.jupyter)
      })
      if (opts.json === true) return printJson(ws)
      printLines([`${ws.ref} ${ws.state}`, `open a terminal with: floe shell ${ws.ref}`, ...(opts.jupyter !== false ? [`open its notebook (when its environment has Jupyter) with: floe workspace open ${ws.ref}`] : [])])
    }))

  workspace.command('ls')
    .description("this node's workspaces and forwarded ports")
    .action(action(async (client, _args, opts) => {
      const { workspaces, ports } = await client.call('workspaceList', {})
      if (opts.json === true) return printJson({ workspaces, ports })
      if (workspaces.length === 0) return printLines(['no workspaces yet; start one with: floe workspace start NAME'])
      printTable(['WORKSPACE', 'NAME', 'STATUS', 'PROVIDER', 'STARTED', 'PRICE/H', 'HOME', 'PORTS'], workspaces.map(ws => [
        ws.ref, ws.message || '-', ws.state, ws.provider == null ? '-' : shortPeer(ws.provider), ago(ws.createdAt),
        ws.pricePerHour == null ? '-' : money(ws.pricePerHour), ws.outputCid ?? ws.homeCid ?? '-',
        ports.filter(p => p.ref === ws.ref).map(p => `${p.host}:${p.local}→${p.remote}`).join(' ') || '-'
      ]))
    }))

  workspace.command('stop')
    .description('stop a workspace: its home is saved (as its output) and its charge ends')
    .argument('<ws>')
    .action(action(async (client, args, opts) => {
      const ws = await client.call('jobStop', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(ws)
      printLines([describe(ws)])
    }))

  workspace.command('restart')
    .description('start a workspace again with its home restored, here or on another provider (e.g. one with a GPU); a running one is stopped first')
    .argument('<ws>')
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
      printLines([`${ws.ref} ${ws.state}${ws.spec.workspace?.home != null ? `, home from ${ws.spec.workspace.home}` : ''}`, `open a terminal with: floe shell ${ws.ref}`])
    }))

  workspace.command('port')
    .description("forward a loopback port here to a port inside a running workspace (e.g. JupyterLab's 8888)")
    .argument('<ws>')
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
    .argument('<ws>')
    .argument('[command...]', 'run this instead of the shell (after --)')
    .action(action(async (client, args) => {
      const [ref, ...command] = args
      const target = await expandJobRef(ref ?? '')
      // a workspace still starting is waited for (its state on stderr), not refused
      const deadline = Date.now() + START_WAIT_MS
      for (let job = await client.call('jobShow', { ref: target }); STARTING.has(job.state) && Date.now() < deadline; job = await client.call('jobShow', { ref: target })) {
        process.stderr.write(`floe: ${job.ref} is ${job.state}; waiting for it to run\n`)
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
      process.exitCode = await runShell(client, target, command.length > 0 ? command : null)
    }))

  return [workspace, shell]
}


