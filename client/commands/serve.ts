import { Command } from 'commander'
import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { MAX_SERVE_PORTS } from '../../protocol/jobs/spec.js'
import type { ApiClient } from '../api-client.js'
import { printJson, printLines, printTable } from '../output.js'
import { action } from './action.js'

interface Forward { ref: string, host: string, remote: number, local: number }

/** `--serve PORT` values (repeatable) as container ports, or one clear error. */
export function servePorts (values: string[]): number[] {
  const ports: number[] = []
  for (const value of values) {
    const port = Number(value)
    if (!/^\d+$/.test(value) || port < 1 || port > 65_535) throw new Error(`--serve ${value}: expected a port number from 1 to 65535, the one the job's server listens on`)
    if (ports.includes(port)) throw new Error(`--serve ${value} is given twice`)
    ports.push(port)
  }
  if (ports.length > MAX_SERVE_PORTS) throw new Error(`--serve is given ${ports.length} times; a job serves at most ${MAX_SERVE_PORTS} ports`)
  return ports
}

/** How often `floe run --serve` looks whether the job runs and its ports are forwarded. */
const POLL_MS = 300

/**
 * After `floe run --serve`: waits until the job runs and this node forwards each served port
 * (or the job ends first), and says where to reach them. The forwards last as long as the
 * job runs, whether or not this command still does.
 */
export async function waitForServing (client: ApiClient, job: JobView, quiet: boolean): Promise<Forward[]> {
  const wanted = job.spec.serve ?? []
  let said = ''
  while (true) {
    const ports = (await client.call('serveList', {})).ports.filter(forward => forward.ref === job.ref)
    if (wanted.every(port => ports.some(forward => forward.remote === port))) {
      if (!quiet) for (const forward of ports) process.stdout.write(`serving http://${forward.host}:${forward.local} → job ${forward.remote}\n`)
      return ports
    }
    const now = await client.call('jobShow', { ref: job.ref })
    if (isFinal(now.state)) {
      if (!quiet) process.stderr.write(`floe: ${now.ref} is ${now.state}: nothing to serve\n`)
      return []
    }
    if (!quiet && now.state !== said) process.stderr.write(`floe: ${now.ref} is ${now.state}; its ports are served once it runs\n`)
    said = now.state
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

export function serveCommand (): Command {
  const serve = new Command('serve').description('ports of running jobs forwarded here (floe run --serve PORT)')
  serve.command('ls')
    .description("the local ports that reach running jobs' served ports")
    .action(action(async (client, _args, opts) => {
      const { ports } = await client.call('serveList', {})
      if (opts.json === true) return printJson(ports)
      if (ports.length === 0) return printLines(['no job serves a port now; start one with floe run --serve PORT -- COMMAND'])
      printTable(['JOB', 'URL', 'PORT'], ports.map(forward => [forward.ref, `http://${forward.host}:${forward.local}`, String(forward.remote)]))
    }))
  return serve
}
