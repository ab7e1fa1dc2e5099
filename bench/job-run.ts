// End-to-end cost of a job: `floe run --follow -- true` from a small code folder, on the
// local provider and on a second daemon over loopback, beside bare
// `docker run --rm --network none floe/busybox true`, all measured in the same run
// (median of --runs, interleaved so machine noise hits each alike). Then 20 jobs submitted
// at once through the API (the provider's max-jobs raised to 20, so it takes them all as
// docker does), beside 20 bare `docker run`s started at once.
// Usage: node dist/bench/job-run.js [--runs 7] [--burst 20] [--json]
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { createApiClient, type ApiClient } from '../client/api-client.js'
import { homePaths } from '../protocol/home.js'
import { FLOE_BIN, floeJson, startBenchDaemon, timed } from './helpers.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, burst: { type: 'string', default: '20' }, json: { type: 'boolean', default: false } } })
const runs = Number(values.runs)
const burst = Number(values.burst)
const exec = promisify(execFile)

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

async function floeRun (home: string, code: string, extra: string[]): Promise<void> {
  const child = spawn(process.execPath, [FLOE_BIN, 'run', '--home', home, '--path', code, '--follow', ...extra, '--', 'true'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const status = await new Promise(resolve => child.on('close', resolve))
  if (status !== 0) throw new Error(`floe run exited ${String(status)}`)
}

/** The same job through the API from this process: the daemon's share without the CLI's start-up. */
async function apiRun (home: string, code: string): Promise<void> {
  const api = apiOf(home)
  const job = await api.call('jobRun', { path: code, command: ['true'], requirements: {} })
  const final = await api.call('jobLogs', { ref: job.ref, follow: true })
  if (final.state !== 'success') throw new Error(`job ${final.ref} ${final.state}`)
}

async function dockerRun (): Promise<void> {
  await exec('docker', ['run', '--rm', '--network', 'none', 'floe/busybox', 'true'])
}

function apiOf (home: string): ApiClient {
  const paths = homePaths(home)
  return createApiClient({ url: JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')).url, token: readFileSync(paths.apiToken, 'utf8').trim() })
}

/** `burst` jobs submitted at once through the API; resolves when every one has ended. */
async function jobBurst (home: string, code: string, extra: { provider?: string }): Promise<void> {
  const api = apiOf(home)
  const jobs = await Promise.all(Array.from({ length: burst }, async () => await api.call('jobRun', { path: code, command: ['true'], requirements: { cpus: 1, memoryBytes: 64 * 1024 ** 2 }, ...extra })))
  while (true) {
    const { jobs: all } = await api.call('jobList', {})
    const ours = all.filter(j => jobs.some(s => s.jobId === j.jobId))
    const failed = ours.filter(j => j.state !== 'success' && ['failed', 'timeout', 'stopped', 'lost'].includes(j.state))
    if (failed.length > 0) throw new Error(`${failed.length} burst jobs did not succeed: ${failed[0]?.reason ?? failed[0]?.state}`)
    if (ours.every(j => j.state === 'success')) return
    await sleep(50)
  }
}

const code = await mkdtemp(join(tmpdir(), 'floe-bench-code-'))
await writeFile(join(code, 'train.py'), 'print("hello")\n')
await writeFile(join(code, 'README'), 'a small code folder\n')
const provider = await startBenchDaemon(undefined, ['--provider'])
const client = await startBenchDaemon()
try {
  await floeJson(['connect', (await floeJson(['id', '--home', provider.home])).addresses[0], '--home', client.home])
  const providerId = (await floeJson(['id', '--home', provider.home])).peerId
  while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await sleep(100)

  // warm up each path once (image cache, first dial)
  await dockerRun()
  await floeRun(provider.home, code, [])
  await floeRun(client.home, code, ['--provider', providerId])

  const bare: number[] = []
  const local: number[] = []
  const remote: number[] = []
  const viaApi: number[] = []
  for (let i = 0; i < runs; i++) {
    bare.push(await timed(dockerRun))
    viaApi.push(await timed(async () => { await apiRun(provider.home, code) }))
    local.push(await timed(async () => { await floeRun(provider.home, code, []) }))
    remote.push(await timed(async () => { await floeRun(client.home, code, ['--provider', providerId]) }))
  }
  // the provider takes the whole burst at once, as bare docker does
  await floeJson(['provider', 'set', 'max-jobs', String(burst), '--home', provider.home])
  while ((await floeJson(['providers', '--home', client.home])).providers[0]?.offer.maxConcurrentJobs !== burst) await sleep(100)
  const bareBurst = await timed(async () => { await Promise.all(Array.from({ length: burst }, dockerRun)) })
  const localBurst = await timed(async () => { await jobBurst(provider.home, code, {}) })
  const remoteBurst = await timed(async () => { await jobBurst(client.home, code, { provider: providerId }) })

  const result = {
    runs,
    single: { bareMs: median(bare), localMs: median(local), localApiMs: median(viaApi), remoteMs: median(remote), localRatio: median(local) / median(bare), remoteRatio: median(remote) / median(bare) },
    burst: { jobs: burst, bareMs: bareBurst, localMs: localBurst, remoteMs: remoteBurst, localRatio: localBurst / bareBurst, remoteRatio: remoteBurst / bareBurst }
  }
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else {
    const s = result.single
    const b = result.burst
    console.log(`one job, \`-- true\`, median of ${runs}: bare docker run ${s.bareMs.toFixed(0)} ms; floe run --follow local ${s.localMs.toFixed(0)} ms (${s.localRatio.toFixed(2)}×, aim ≤ 1.5×; through the API without a CLI process ${s.localApiMs.toFixed(0)} ms, ${(s.localApiMs / s.bareMs).toFixed(2)}×); remote over loopback ${s.remoteMs.toFixed(0)} ms (${s.remoteRatio.toFixed(2)}×, aim ≤ 2×)`)
    console.log(`${b.jobs} jobs at once: bare docker run ${b.bareMs.toFixed(0)} ms; floe local ${b.localMs.toFixed(0)} ms (${b.localRatio.toFixed(2)}×); remote ${b.remoteMs.toFixed(0)} ms (${b.remoteRatio.toFixed(2)}×)`)
  }
} finally {
  await client.stop()
  await provider.stop()
  await rm(code, { recursive: true, force: true })
}
