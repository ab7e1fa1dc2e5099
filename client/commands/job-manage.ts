import { resolve } from 'node:path'
import { Command } from 'commander'
import { printJson, printLines } from '../output.js'
import { expandJobRef } from '../project-link.js'
import { action } from './action.js'
import { addJobOptions } from './job-options.js'
import { describe, report, rerunChanges } from './jobs.js'

/**
 * The job commands a FloydHub user reaches for: `floe info JOB` (everything about a job),
 * `floe restart JOB` (its spec again with the code folder as it is now) and `floe delete JOB`
 * (a tombstone in the project's log). They reuse status's description and rerun's request.
 */
export function jobManageCommands (): Command[] {
  const info = new Command('info')
    .description('everything about a job: spec, command, shape, inputs, provider, times, cost, exit, output CID, receipt (floe status JOB says the same)')
    .argument('<job>', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .action(action(async (client, args, opts) => {
      const job = await client.call('jobShow', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(job)
      printLines(describe(job))
    }))

  const restart = addJobOptions(new Command('restart')
    .description("a new job from a job's spec with the code folder as it is NOW (as FloydHub's restart) and what is given changed; floe rerun keeps the old code")
    .argument('<job>', 'N, PROJECT/N or a job id')
    .argument('[command...]', 'a new command (after --)'), 'rerun')
    .option('--path <dir>', 'the code folder (default: the current folder)')
    .action(action(async (client, args, opts) => {
      const [ref, ...command] = args
      const job = await client.call('jobRerun', { ...await rerunChanges(ref ?? '', command, opts), path: resolve(opts.path ?? '.'), reuse: false })
      await report(client, job, opts)
    }))

  const del = new Command('delete')
    .description("delete an ended job: a tombstone in its project's log hides it from listings (floe status --all shows it), and its output is no longer kept, so floe gc can free it")
    .argument('<job>', 'N, PROJECT/N or a job id')
    .action(action(async (client, args, opts) => {
      const job = await client.call('jobDelete', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(job)
      printLines([`deleted ${job.ref}${job.outputCid != null ? `; its output ${job.outputCid} is no longer kept (floe gc frees it unless a dataset names it)` : ''}`])
    }))

  return [info, restart, del]
}
