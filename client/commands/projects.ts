import { resolve } from 'node:path'
import { Command } from 'commander'
import type { ProjectView } from '../../protocol/projects/view.js'
import type { ApiClient } from '../api-client.js'
import { ago, printJson, printLines, printTable } from '../output.js'
import { findProjectLink, writeProjectLink } from '../project-link.js'
import { action } from './action.js'
import { shortPeer } from '../../protocol/format.js'
import { budgetCommand } from './billing.js'

/** `--project P`, else the folder's link, else an error saying how to choose one. */
async function projectArg (opts: Record<string, any>): Promise<string> {
  if (typeof opts.project === 'string') return opts.project
  const link = await findProjectLink('.')
  if (link == null) throw new Error('this folder is not linked to a project: run floe init NAME here, or pass --project NAME')
  return link.id
}

function describeProject (p: ProjectView): string[] {
  return [
    `project   ${p.name}  (id ${p.id})`,
    `owner     ${p.ownerPeer}`,
    `created   ${p.createdAt}`,
    `entries   ${p.entries}, ${p.jobs} jobs, ${p.heads.length} head${p.heads.length === 1 ? '' : 's'}`,
    `members   ${Object.entries(p.members).sort((a, b) => a[1] - b[1]).map(([peer, slot]) => `${peer} (slot ${slot})`).join('\n          ')}`,
    ...(p.writable ? [] : ['          (this node is not a member: it holds the log read-only)'])
  ]
}

export function projectCommands (): Command[] {
  const init = new Command('init')
    .description('link the current folder to a project (created, owned by this node, when there is none by that name)')
    .argument('<name>', 'NAME, OWNER/NAME or a project id')
    .option('--path <dir>', 'the folder to link (default: the current folder)')
    .action(action(async (client, args, opts) => {
      const { project, created } = await client.call('projectInit', { name: args[0] ?? '' })
      const file = await writeProjectLink(opts.path ?? '.', { id: project.id, name: project.name })
      if (opts.json === true) return printJson({ ...project, created, link: file })
      printLines([`${created ? 'created' : 'linked to'} project ${project.name} (${project.id})`, `jobs run from ${resolve(opts.path ?? '.')} go there now (${file})`])
    }))

  const projects = new Command('projects')
    .description('the projects this node holds')
    .action(action(async (client, _args, opts) => {
      const { projects: list } = await client.call('projectList', {})
      if (opts.json === true) return printJson(list)
      if (list.length === 0) return printLines(['no projects yet; create one with: floe init NAME'])
      const linked = (await findProjectLink('.'))?.id
      printTable(['PROJECT', 'ID', 'JOBS', 'MEMBERS', 'ENTRIES', 'CREATED'], list.map(p => [
        `${p.id === linked ? '* ' : ''}${p.name}`, p.id, String(p.jobs), String(Object.keys(p.members).length), String(p.entries), ago(p.createdAt)
      ]))
    }))

  const log = new Command('log')
    .description("the project's history, newest first")
    .option('--project <project>', 'NAME, OWNER/NAME or id (default: the folder\'s project)')
    .option('-n, --limit <n>', 'at most this many entries', '50')
    .action(action(async (client, _args, opts) => {
      const result = await client.call('projectLog', { project: await projectArg(opts), limit: Number(opts.limit) })
      if (opts.json === true) return printJson(result)
      printLines(result.entries.map(e => `${e.at}  ${e.clock.toString().padStart(4)}  ${shortPeer(e.author)}  ${e.summary}`))
    }))

  const project = new Command('project').description('a project: members, notes, datasets, sync, export')
  const withProject = (cmd: Command): Command => cmd.option('--project <project>', 'NAME, OWNER/NAME or id (default: the folder\'s project)')
  project.addCommand(budgetCommand())

  withProject(project.command('show').description('members, heads and counts'))
    .action(action(async (client, _args, opts) => {
      const p = await client.call('projectShow', { project: await projectArg(opts) })
      if (opts.json === true) return printJson(p)
      printLines(describeProject(p))
    }))
  for (const [name, act] of [['add-member', 'add'], ['remove-member', 'remove']] as const) {
    withProject(project.command(name).description(act === 'add' ? 'let a peer write to the project (the owner only)' : 'stop a peer writing to the project (the owner only)'))
      .argument('<peer>', 'the peer id (floe id on its machine)')
      .action(action(async (client, args, opts) => {
        const p = await client.call('projectMember', { project: await projectArg(opts), peer: args[0] ?? '', action: act })
        if (opts.json === true) return printJson(p)
        printLines([`${act === 'add' ? 'added' : 'removed'} ${args[0]}`, ...describeProject(p)])
      }))
  }
  withProject(project.command('note').description("write a note into the project's log"))
    .argument('<text...>')
    .action(action(async (client, args, opts) => {
      const result = await client.call('projectNote', { project: await projectArg(opts), text: args.join(' ') })
      if (opts.json === true) return printJson(result)
      printLines([`noted (${result.cid})`])
    }))
  withProject(project.command('attach').description("record a dataset version in the project's log"))
    .argument('<dataset>', "NAME, NAME:N, or another owner's OWNER/NAME:N")
    .action(action(async (client, args, opts) => {
      const result = await client.call('projectAttach', { project: await projectArg(opts), dataset: args[0] ?? '' })
      if (opts.json === true) return printJson(result)
      printLines([`attached ${result.name}:${result.version} (${result.datasetCid})`])
    }))
  withProject(project.command('sync').description('pull new entries from every connected member now'))
    .action(action(async (client, _args, opts) => {
      const result = await client.call('projectSync', { project: await projectArg(opts) })
      if (opts.json === true) return printJson(result)
      printLines([
        `${result.added} new entries from ${result.peers} connected member${result.peers === 1 ? '' : 's'}${result.refused > 0 ? `; ${result.refused} refused (see the daemon log)` : ''}`,
        ...result.failed.map(f => `  could not pull from ${f.peer}: ${f.reason}`)
      ])
    }))
  withProject(project.command('export').description("write the project's log as a CAR file"))
    .requiredOption('--car <file>', 'a path that does not exist yet')
    .action(action(async (client, _args, opts) => {
      const result = await client.call('projectExport', { project: await projectArg(opts), file: resolve(opts.car) })
      if (opts.json === true) return printJson(result)
      printLines([`${result.file}: ${result.entries} entries, ${result.bytes} bytes`])
    }))
  project.command('import').description("take in a project log's CAR file (every entry checked)")
    .argument('<file>')
    .action(action(async (client, args, opts) => {
      const result = await client.call('projectImport', { file: resolve(args[0] ?? '') })
      // what checked out is kept either way; refusals make the exit status 1
      if (result.refused.length > 0) process.exitCode = 1
      if (opts.json === true) return printJson(result)
      printLines([`${result.added} entries added, ${result.held} held already, ${result.refused.length} refused`, ...result.refused.slice(0, 10).map(r => `  refused ${r.cid}: ${r.reason}`)])
    }))

  const repair = new Command('repair')
    .description('rebuild the project views (jobs, heads, members) from the log entries in the block store')
    .action(action(async (client: ApiClient, _args, opts) => {
      const report = await client.call('projectRepair', {})
      if (opts.json === true) return printJson(report)
      printLines([
        `${report.found} log entries found in the block store; ${report.kept} kept in ${report.projects} project${report.projects === 1 ? '' : 's'} (the index held ${report.before})`,
        ...report.refused.slice(0, 10).map(r => `  refused ${r.cid}: ${r.reason}`)
      ])
    }))

  return [init, projects, log, project, repair]
}
