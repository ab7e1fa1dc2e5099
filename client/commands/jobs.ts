import { resolve } from 'node:path'
import { Command } from 'commander'
import type { JobView } from '../../protocol/jobs/view.js'
import type { LogLine } from '../../protocol/jobs/job.js'
import { formatDuration, formatSize, parseDuration } from '../../protocol/market/requirements.js'
import type { ApiClient } from '../api-client.js'
import { ago, printJson, printLines, printTable } from '../output.js'
import { withProgressBar } from '../progress.js'
import { action } from './action.js'
import { addJobOptions, numberOption, requirementChanges, requirementsOf } from './job-options.js'
import type { RerunRequest } from '../../protocol/api/routes.js'
import { expandDataRef, expandJobRef, findProjectLink } from '../project-link.js'
import { displayCommand, jobDuration, latestMetrics, money, peakMemory, runTime, shortPeer } from '../../protocol/format.js'
import { creditsOf, parseCredits } from '../../protocol/billing/credits.js'
import { budgetLine } from './billing.js'
import { servePorts, waitForServing } from './serve.js'
import { jobSystem, systemLine } from './system-metrics.js'
import { loadRunConfig, mergeRunSettings, noCommandError, settingsFor, settingsRows, snapshotReporter } from './run-config.js'

/** `REF:MOUNT` → its parts; the mount is what follows the last `:/`, so `mnist:3:/data` works. */
export function parseDataMount (value: string): { ref: string, mount: string } {
  const split = value.lastIndexOf(':/')
  if (split <= 0) {
    // `mnist:data`: a mount given, but not as an absolute path
    const colon = value.lastIndexOf(':')
    if (colon > 0 && colon < value.length - 1 && !/^\d+$/.test(value.slice(colon + 1))) {
      throw new Error(`--data ${value}: the mount path must be absolute, e.g. ${value.slice(0, colon)}:/${value.slice(colon + 1).replace(/^\.?\/*/, '')}`)
    }
    throw new Error(`--data ${value}: expected REF:MOUNT with an absolute mount path, e.g. ${value === '' ? 'mnist' : value}:/data (or mnist:3:/data, default/2/output:/model)`)
  }
  return { ref: value.slice(0, split), mount: value.slice(split + 1) }
}

/** `--data` values as mounts; a bare `N/output` is the folder's project's job. */
async function dataMounts (values: string[], folder: string): Promise<Array<{ ref: string, mount: string }>> {
  return await Promise.all(values.map(parseDataMount).map(async d => ({ ...d, ref: await expandDataRef(d.ref, folder) })))
}

/** The command after `--`; one argument with spaces runs through the shell, as FloydHub's did. */
export function jobCommand (args: string[]): string[] {
  return args.length === 1 && /\s/.test(args[0] ?? '') ? ['sh', '-c', args[0] as string] : args
}

/** The exit status `floe run --follow` ends with: 124 past its time limit (as timeout(1)), 130 stopped, else the job's own (1 when it has none). */
export function exitStatus (job: JobView): number {
  if (job.state === 'success') return 0
  if (job.state === 'timeout') return 124
  if (job.state === 'stopped') return 130
  if (job.exitCode != null && job.exitCode !== 0) return Math.min(job.exitCode, 255)
  return 1
}

function printLine (line: LogLine, timestamps = false): void {
  const at = timestamps ? `${new Date(line.at).toISOString()} ` : ''
  if (line.stream === 'stdout') process.stdout.write(at + line.line + '\n')
  else if (line.stream === 'stderr') process.stderr.write(at + line.line + '\n')
  else process.stderr.write(`${at}floe: ${line.line}\n`)
}

function summary (job: JobView): string {
  const how = job.reason == null ? '' : ` (${job.reason})`
  return `${job.ref} ${job.state}${how}${job.outputCid != null ? `; output ${job.outputCid}` : ''}`
}

/** After run or rerun: the job, or (--follow) its log until it ends, exiting with its status. */
export async function report (client: ApiClient, job: JobView, opts: { json?: boolean, follow?: boolean }, extra: Record<string, unknown> = {}): Promise<void> {
  const json = opts.json === true
  if (opts.follow !== true) {
    if (json) return printJson({ ...job, ...extra })
    return printLines([`${job.ref} ${job.state} (job ${job.jobId}, spec ${job.specCid})`, `follow it with: floe logs -f ${job.ref}`])
  }
  if (!json) process.stderr.write(`floe: ${job.ref} submitted; following its log (Ctrl-C stops following, not the job)\n`)
  const final = await follow(client, job.ref, json)
  if (json) printJson({ ...final, ...extra })
  else process.stderr.write(`floe: ${summary(final)}\n`)
  process.exitCode = exitStatus(final)
}

async function follow (client: ApiClient, ref: string, json: boolean): Promise<JobView> {
  return await client.call('jobLogs', { ref, after: 0, follow: true }, { onProgress: json ? undefined : printLine })
}

/**
 * A rerun's request from its options: only what is given changes (`floe rerun`, and
 * `floe restart`, which adds the current code folder).
 */
export async function rerunChanges (ref: string, command: string[], opts: Record<string, any>): Promise<RerunRequest> {
  const data = (opts.data as string[]).length > 0 ? await dataMounts(opts.data as string[], '.') : undefined
  return {
    ref: await expandJobRef(ref),
    ...(command.length > 0 ? { command: jobCommand(command) } : {}),
    ...(opts.env != null ? { environment: opts.env } : {}),
    ...requirementChanges(opts),
    ...(data != null ? { data } : {}),
    ...(opts.timeout != null ? { timeoutSeconds: parseDuration(opts.timeout) } : {}),
    ...(opts.maxPrice != null ? { maxPricePerHour: numberOption('--max-price', opts.maxPrice, '0.5') } : {}),
    ...(opts.provider != null ? { provider: opts.provider } : {}),
    ...(opts.retries != null ? { retries: numberOption('--retries', opts.retries, '2', { integer: true }) } : {}),
    ...(opts.message != null ? { message: opts.message } : {}),
    ...(opts.deterministic === true ? { deterministic: true } : {})
  }
}

export function jobCommands (): Command[] {
  const run = addJobOptions(new Command('run')
    .description('run a command on the best provider: the current folder is the code (/code), --data mounts inputs read-only')
    .argument('[command...]', 'the command to run (after --)'), 'run')
    .option('--dry-run', 'show which providers would be chosen, and why others would not')
    .option('--path <dir>', 'the code folder (default: the current folder)')
    .option('--project <project>', "the project (default: the folder's, from floe init; else this node's default project)")
    .option('--max-cost <credits>', 'the most the job may cost in all: no more is promised past it, and the job stops there')
    .option('--allow-partial', 'run even when the worst case (price × --timeout) passes what the budgets leave: it stops when they are used')
    .option('--requirements <file>', "a pip requirements file, installed into an environment derived from --env on this machine (with network) before the job is sent; default: the code folder's requirements.txt")
    .option('--no-requirements', "run in --env as it is, even when the code folder has a requirements.txt")
    .option('--serve <port>', "forward this container port here while the job runs (a model endpoint, a viewer); repeatable; see floe serve ls", (value: string, all: string[] = []) => [...all, value])
    .option('--task <name>', "run this task of the code folder's floe.yml / floyd.yml (see floe tasks); flags typed here override it")
    .action(action(async (client, typedArgs, typedOpts) => {
      // the code folder's run config (floe.yml, else floyd.yml) under the flags typed
      const path = resolve(typedOpts.path ?? '.')
      const config = await loadRunConfig(client, path)
      const task = typedOpts.task as string | undefined
      const { settings, where } = settingsFor(config, task, path)
      const merged = mergeRunSettings(settings, where, typedOpts, typedArgs, option => run.getOptionValueSource(option) === 'cli')
      const { opts, args } = merged
      if (args.length === 0 && opts.dryRun !== true) throw noCommandError(config, task, path)
      const requirements = requirementsOf(opts)
      const serve = opts.serve == null ? undefined : servePorts(opts.serve as string[])
      const maxCost = opts.maxCost == null ? undefined : creditsOf(parseCredits(String(opts.maxCost)))
      const timeoutSeconds = parseDuration(opts.timeout)
      const maxPricePerHour = opts.maxPrice == null ? undefined : numberOption('--max-price', opts.maxPrice, '0.5')
      if (opts.dryRun === true) {
        const result = await client.call('match', { requirements: { ...requirements, environment: opts.env, maxSeconds: timeoutSeconds, ...(maxPricePerHour != null ? { maxPricePerHour } : {}) } })
        const rows = settingsRows(merged)
        if (opts.json === true) return printJson({ ...result, settings: Object.fromEntries(rows.map(([k, v, f]) => [k, { value: v, from: f }])), ...(config != null ? { config: config.file } : {}), ...(task != null ? { task } : {}) })
        printTable(['SETTING', 'VALUE', 'FROM'], rows)
        printLines([''])
        if (result.ranked.length === 0) printLines(['no provider can take this job'])
        else {
          printTable(['RANK', 'PEER', 'COST/H', 'GPUS', 'LATENCY', 'SCORE'], result.ranked.map((r, i) => [
            String(i + 1), r.peerId, money(r.costPerHour), r.gpus.join(',') || '-', r.latencyMs == null ? '-' : `${r.latencyMs} ms`, r.score.toFixed(3)
          ]))
        }
        if (result.excluded.length > 0) printLines(['', 'excluded:', ...result.excluded.map(e => `  ${e.peerId}: ${e.reasons.join('; ')}`)])
        return
      }
      const json = opts.json === true
      const project = opts.project ?? (await findProjectLink(path))?.id
      const data = await dataMounts(opts.data as string[], path)
      let sent: ReturnType<typeof snapshotReporter> | undefined
      const job = await withProgressBar(!json, async bar => await client.call('jobRun', {
        path,
        command: jobCommand(args),
        environment: opts.env,
        requirements,
        ...(typeof opts.requirements === 'string' ? { pipRequirements: resolve(opts.requirements) } : {}),
        ...(opts.requirements === false ? { noRequirements: true } : {}),
        data,
        timeoutSeconds,
        ...(maxPricePerHour != null ? { maxPricePerHour } : {}),
        ...(maxCost != null ? { maxCost } : {}),
        ...(opts.allowPartial === true ? { allowPartial: true } : {}),
        ...(opts.provider != null ? { provider: opts.provider } : {}),
        retries: numberOption('--retries', opts.retries, '2', { integer: true }),
        message: opts.message,
        ...(project != null ? { project } : {}),
        deterministic: opts.deterministic === true,
        ...(serve != null ? { serve } : {})
      }, { onProgress: (sent = snapshotReporter(json, bar)).onProgress }))
      const snapshot = sent?.snapshot()
      const extra = snapshot != null ? { snapshot } : {}
      if (job.spec.serve != null) {
        const serving = await waitForServing(client, job, json)
        // as it is now (running, or ended before it could serve), not as it was submitted
        const now = await client.call('jobShow', { ref: job.ref })
        if (json && opts.follow !== true) return printJson({ ...now, serving, ...extra })
        return await report(client, now, opts, extra)
      }
      await report(client, job, opts, extra)
    }))

  const rerun = addJobOptions(new Command('rerun')
    .description("a new job from a job's spec (same code, data, environment, command, shape) with what is given changed")
    .argument('<job>', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .argument('[command...]', 'a new command (after --)'), 'rerun')
    .option('--reuse', 'when the same spec already succeeded and was marked deterministic, return its output without running')
    .action(action(async (client, args, opts) => {
      const [ref, ...command] = args
      const job = await client.call('jobRerun', { ...await rerunChanges(ref ?? '', command, opts), reuse: opts.reuse === true })
      if (job.reusedFrom != null && opts.json !== true) {
        process.stderr.write(`floe: ${job.ref} returns the output of ${job.reusedFrom} (same spec, marked deterministic): nothing ran\n`)
      }
      await report(client, job, opts)
    }))

  const status = new Command('status')
    .description("jobs and their state (the folder's project's, else every project's); with JOB, that job in full")
    .argument('[job]', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .option('--project <project>', 'only this project')
    .option('--all', 'every project, even in a linked folder, and deleted jobs (floe delete)')
    .action(action(async (client, args, opts) => {
      if (args[0] != null) {
        const job = await client.call('jobShow', { ref: await expandJobRef(args[0]) })
        const system = await jobSystem(client, job.jobId)
        if (opts.json === true) return printJson({ ...job, system })
        const lines = describe(job)
        // beside the receipt's usage, before the timeline
        lines.splice(lines.indexOf('timeline'), 0, systemLine(system.summary))
        return printLines(lines)
      }
      const project = opts.all === true ? undefined : opts.project ?? (await findProjectLink('.'))?.id
      const { jobs } = await client.call('jobList', { ...(project != null ? { project } : {}), ...(opts.all === true ? { includeDeleted: 'true' as const } : {}) })
      if (opts.json === true) return printJson(jobs)
      if (jobs.length === 0) return printLines(['no jobs yet; run one with: floe run -- COMMAND'])
      printTable(['JOB', 'CREATED', 'STATUS', 'DURATION', 'PROVIDER', 'ENV', 'COST', 'MESSAGE', 'METRICS'], jobs.map(job => [
        job.ref, ago(job.createdAt), job.deletedAt != null ? `${job.state} (deleted)` : job.state, jobDuration(job), job.provider == null ? '-' : shortPeer(job.provider), job.spec.environment,
        job.receipt == null ? '-' : money(job.receipt.cost), job.message, latestMetrics(job)
      ]))
      // what the budgets leave (floe project budget, config.json's billing.budget)
      const budgets = await client.call('projectBudgetShow', project != null ? { project } : {}).then(r => r.budgets, () => [])
      if (budgets.length > 0) printLines(['', ...budgets.map(b => `budget: ${budgetLine(b)}`)])
    }))

  const logs = new Command('logs')
    .description("a job's log; -f follows it until the job ends")
    .argument('<job>', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .option('-f, --follow', 'keep printing new lines until the job ends')
    .option('-t, --timestamps', 'start each line with when it was printed (UTC, ISO 8601)')
    .action(action(async (client, args, opts) => {
      const lines: LogLine[] = []
      const print = (line: LogLine): void => { printLine(line, opts.timestamps === true) }
      const job = await client.call('jobLogs', { ref: await expandJobRef(args[0] ?? ''), after: 0, follow: opts.follow === true }, { onProgress: opts.json === true ? (line: LogLine) => { lines.push(line) } : print })
      if (opts.json === true) printJson({ job: job.ref, state: job.state, lines })
    }))

  const stop = new Command('stop')
    .description('stop a job: its container is killed, what it wrote to /output is kept')
    .argument('<job>', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .action(action(async (client, args, opts) => {
      const job = await client.call('jobStop', { ref: await expandJobRef(args[0] ?? '') })
      if (opts.json === true) return printJson(job)
      printLines([summary(job)])
    }))

  const write = (name: 'output' | 'clone', route: 'jobOutput' | 'jobClone', what: string): Command => new Command(name)
    .description(`write a job's ${what} to DEST (default: ${name === 'output' ? './floe-output/PROJECT-N, a folder code snapshots always leave out' : './PROJECT-N'})`)
    .argument('<job>', 'N, PROJECT/N, a job id, or a workspace NAME (its latest run)')
    .argument('[dest]', 'a path that does not exist yet')
    .action(action(async (client, args, opts) => {
      const ref = await expandJobRef(args[0] ?? '')
      const job = await client.call('jobShow', { ref })
      // an output written into the code folder must not ride along with the next job's snapshot: floe-output/ is always ignored
      const dest = resolve(args[1] ?? `${name === 'output' ? 'floe-output/' : ''}${job.project.split('/').at(-1) ?? 'job'}-${job.number}`)
      const result = await withProgressBar(opts.json !== true, async onProgress => await client.call(route, { ref, dest }, { onProgress }))
      if (opts.json === true) return printJson(result)
      printLines([`${result.dest}  ${result.cid}  (${result.files} files, ${formatSize(result.bytes)})`])
    }))

  return [run, rerun, status, logs, stop, write('output', 'jobOutput', 'output'), write('clone', 'jobClone', 'code snapshot')]
}

/** `floe status JOB` and `floe info JOB`: everything about a job, for people. */
export function describe (job: JobView): string[] {
  const lines = [
    `job          ${job.ref}  (id ${job.jobId})`,
    `state        ${job.state}${job.reason != null ? ` — ${job.reason}` : ''}${job.exitCode != null && job.reason == null ? `, exit code ${job.exitCode}` : ''}`,
    `project      ${job.project}  (id ${job.projectId})`,
    `author       ${job.author}`,
    `message      ${job.message || '-'}${job.deterministic ? '  (deterministic)' : ''}`,
    ...(job.reusedFrom != null ? [`reused       the output of ${job.reusedFrom} (same spec): nothing ran`] : []),
    ...(job.deletedAt != null ? [`deleted      ${job.deletedAt}  (floe delete: hidden from listings, output no longer kept)`] : []),
    `command      ${displayCommand(job.spec.command)}`,
    `environment  ${job.spec.environment}${job.spec.image != null ? `  (${job.spec.image.cid}, ${formatSize(job.spec.image.bytes)})` : ''}`,
    `resources    ${job.spec.resources.cpus} CPU, ${formatSize(job.spec.resources.memoryBytes)}, ${job.spec.resources.gpus} GPU; limit ${formatDuration(job.spec.timeoutSeconds)}`,
    `code         ${job.spec.code}`,
    ...job.inputs.map(input => `input        ${input.ref} → ${input.mount}  (${input.cid})`),
    `spec         ${job.specCid}`,
    `provider     ${job.provider ?? '-'}${job.pricePerHour != null ? ` at ${money(job.pricePerHour)}/h` : ''}`,
    `output       ${job.outputCid ?? '-'}`,
    `logs         ${job.logsCid ?? '-'} (${job.logLines} lines)`,
    `metrics      ${latestMetrics(job)}`
  ]
  if (job.receipt != null) {
    const r = job.receipt
    lines.push(`usage        ${r.usage.cpuSeconds.toFixed(2)} CPU s, peak ${peakMemory(r.usage.peakMemoryBytes)}, ${r.usage.gpuSeconds.toFixed(1)} GPU s; prepared in ${r.preparingMs} ms, ran ${runTime(r.runMs)}; cost ${money(r.cost)}`)
    lines.push(`ended        ${r.state}${r.exitCode != null ? `, exit code ${r.exitCode}` : ''}; output ${formatSize(r.outputBytes)}; receipt signed by ${r.provider}`)
    if (r.environment != null) lines.push(`environment  fetched ${formatSize(r.environment.fetchedBytes)} in ${r.environment.fetchMs} ms, loaded in ${r.environment.loadMs} ms (part of preparing)`)
  }
  if (job.dispute != null) {
    const d = job.dispute
    lines.push(`dispute      ${d.at}  receipt of ${d.provider} refused (${d.refusal}): ${d.message}${d.claimed != null ? `; it claimed ${money(d.claimed.cost)} at ${money(d.claimed.pricePerHour)}/h, not counted` : ''}${d.outputFetched ? '; its output was kept as evidence' : ''}`)
  }
  lines.push('timeline')
  for (const s of job.states) lines.push(`  ${s.at}  ${s.state}`)
  for (const a of job.attempts) lines.push(`  attempt on ${a.provider}: ${a.outcome}${a.reason != null ? ` (${a.reason})` : ''}`)
  return lines
}
