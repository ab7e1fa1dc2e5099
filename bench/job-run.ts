// End-to-end cost of a job: `floe run --follow -- true` from a small code folder, on the
// local provider and on a second daemon over loopback, beside bare
// `docker run --rm [--runtime=runsc] --network none floe/busybox true`, all measured in the
// same run (median of --runs, interleaved so machine noise hits each alike), under each
// container runtime in --runtimes: the provider's `runtime` setting is switched between them
// within each round, and each floe figure is set against bare docker with the same runtime.
// Then 20 jobs submitted at once through the API (the provider's max-jobs raised to 20, so it
// takes them all as docker does), beside 20 bare `docker run`s at once, under runc (the
// figure kept since the first run; `--burst-runtimes runc,runsc` adds gVisor, which on 2
// cores takes minutes and can overload the engine). `--burst 0` skips the bursts.
// Usage: node dist/bench/job-run.js [--runs 7] [--burst 20] [--runtimes runc,runsc] [--burst-runtimes runc] [--json]
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { createApiClient, type ApiClient } from '../client/api-client.js'
import type { Runtime } from '../daemon/provider/executor.js'
import { homePaths } from '../protocol/home.js'
import { FLOE_BIN, floeJson, startBenchDaemon, timed, type BenchDaemon } from './helpers.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    burst: { type: 'string', default: '20' },
    runtimes: { type: 'string', default: 'runc,runsc' },
    'burst-runtimes': { type: 'string', default: 'runc' },
    json: { type: 'boolean', default: false }
  }
})
const runs = Number(values.runs)
const burst = Number(values.burst)
const exec = promisify(execFile)
/** a burst still running after this has stalled (the engine overloaded), not just slowed */
const BURST_DEADLINE_MS = 180_000

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

async function dockerRun (runtime: Runtime): Promise<void> {
  await exec('docker', ['run', '--rm', ...(runtime === 'runc' ? [] : [`--runtime=${runtime}`]), '--network', 'none', 'floe/busybox', 'true'])
}

/** The runtimes asked for that the engine has (runc always); a missing one is reported and skipped. */
async function runtimesToMeasure (option: string): Promise<Runtime[]> {
  const asked = option.split(',').map(r => r.trim()).filter(r => r !== '')
  for (const r of asked) if (r !== 'runc' && r !== 'runsc') throw new Error(`"${r}" is not a runtime (runc, runsc)`)
  const { stdout } = await exec('docker', ['info', '--format', '{{json .Runtimes}}'])
  const engine = Object.keys(JSON.parse(stdout) as Record<string, unknown>)
  const usable = (asked as Runtime[]).filter(r => r === 'runc' || engine.includes(r))
  for (const r of asked) if (!usable.includes(r as Runtime)) console.error(`skipping runtime ${r}: the engine has only ${engine.join(', ')}`)
  return usable
}

/**
 * Sets the provider's runtime (`floe provider set runtime R`) and proves it took: one job
 * through the API whose log must carry the provider's `runtime: R` line. Also the warm-up.
 */
async function useRuntime (home: string, code: string, runtime: Runtime): Promise<void> {
  await floeJson(['provider', 'set', 'runtime', runtime, '--home', home])
  const api = apiOf(home)
  const job = await api.call('jobRun', { path: code, command: ['true'], requirements: {} })
  const lines: string[] = []
  const final = await api.call('jobLogs', { ref: job.ref, follow: true }, { onProgress: (line: { line: string }) => { lines.push(line.line) } })
  if (final.state !== 'success') throw new Error(`job ${final.ref} ${final.state}`)
  const said = lines.find(line => line.startsWith('runtime: '))
  if (said == null || said.split(' ')[1] !== runtime) throw new Error(`set runtime ${runtime}, but the job's log says ${said ?? 'nothing about its runtime'}`)
}

function apiOf (home: string): ApiClient {
  const paths = homePaths(home)
  return createApiClient({ url: JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')).url, token: readFileSync(paths.apiToken, 'utf8').trim() })
}

/** `burst` jobs submitted at once through the API; resolves when every one has ended. */
async function jobBurst (home: string, code: string, extra: { provider?: string }): Promise<void> {
  const api = apiOf(home)
  const jobs = await Promise.all(Array.from({ length: burst }, async () => await api.call('jobRun', { path: code, command: ['true'], requirements: { cpus: 1, memoryBytes: 64 * 1024 ** 2 }, ...extra })))
  const deadline = Date.now() + BURST_DEADLINE_MS
  while (true) {
    if (Date.now() > deadline) throw new Error(`${burst} jobs at once had not all ended after ${BURST_DEADLINE_MS / 1000} s; the machine is too busy for this burst (try a smaller --burst)`)
    const { jobs: all } = await api.call('jobList', {})
    const ours = all.filter(j => jobs.some(s => s.jobId === j.jobId))
    const failed = ours.filter(j => j.state !== 'success' && ['failed', 'timeout', 'stopped', 'lost'].includes(j.state))
    if (failed.length > 0) throw new Error(`${failed.length} burst jobs did not succeed: ${failed[0]?.reason ?? failed[0]?.state}`)
    if (ours.every(j => j.state === 'success')) return
    await sleep(50)
  }
}

interface SingleFigures { bareMs: number, localMs: number, localApiMs: number, remoteMs: number, localRatio: number, localApiRatio: number, remoteRatio: number }
interface BurstFigures { jobs: number, bareMs: number, localMs: number, remoteMs: number, localRatio: number, remoteRatio: number }

const runtimes = await runtimesToMeasure(String(values.runtimes))
const burstRuntimes = burst > 0 ? (await runtimesToMeasure(String(values['burst-runtimes']))) : []
if (runtimes.length === 0) throw new Error('no runtime left to measure')
const ms = (x: number): string => `${x.toFixed(0)} ms`
const times = (r: number): string => `${r.toFixed(2)}×`
const bareName = (runtime: Runtime): string => runtime === 'runc' ? 'bare docker run' : `bare docker run --runtime=${runtime}`

const code = await mkdtemp(join(tmpdir(), 'floe-bench-code-'))
let provider: BenchDaemon | undefined
let client: BenchDaemon | undefined
try {
  await writeFile(join(code, 'train.py'), 'print("hello")\n')
  await writeFile(join(code, 'README'), 'a small code folder\n')
  provider = await startBenchDaemon(undefined, ['--provider'])
  client = await startBenchDaemon()
  await floeJson(['connect', (await floeJson(['id', '--home', provider.home])).addresses[0], '--home', client.home])
  const providerId = provider.peerId
  while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await sleep(100)

  // warm up each path once per runtime (image cache, first dial, the runtime's own start)
  for (const runtime of runtimes) {
    await useRuntime(provider.home, code, runtime)
    await dockerRun(runtime)
    await floeRun(provider.home, code, [])
    await floeRun(client.home, code, ['--provider', providerId])
  }

  const samples = new Map(runtimes.map(r => [r, { bare: [] as number[], local: [] as number[], remote: [] as number[], viaApi: [] as number[] }]))
  for (let i = 0; i < runs; i++) {
    // each round visits every runtime; the order alternates so neither always goes first
    for (const runtime of i % 2 === 0 ? runtimes : [...runtimes].reverse()) {
      await floeJson(['provider', 'set', 'runtime', runtime, '--home', provider.home])
      const s = samples.get(runtime)!
      s.bare.push(await timed(async () => { await dockerRun(runtime) }))
      s.viaApi.push(await timed(async () => { await apiRun(provider!.home, code) }))
      s.local.push(await timed(async () => { await floeRun(provider!.home, code, []) }))
      s.remote.push(await timed(async () => { await floeRun(client!.home, code, ['--provider', providerId]) }))
    }
  }
  const single = Object.fromEntries(runtimes.map(runtime => {
    const s = samples.get(runtime)!
    const bareMs = median(s.bare)
    return [runtime, { bareMs, localMs: median(s.local), localApiMs: median(s.viaApi), remoteMs: median(s.remote), localRatio: median(s.local) / bareMs, localApiRatio: median(s.viaApi) / bareMs, remoteRatio: median(s.remote) / bareMs }]
  })) as Partial<Record<Runtime, SingleFigures>>
  const runc = single.runc
  const runsc = single.runsc
  // what gVisor costs: each runsc figure over the same figure under runc
  const runscOverRunc = runc != null && runsc != null
    ? { bare: runsc.bareMs / runc.bareMs, local: runsc.localMs / runc.localMs, localApi: runsc.localApiMs / runc.localApiMs, remote: runsc.remoteMs / runc.remoteMs }
    : undefined
  // printed now: a burst that fails later must not take these with it
  if (!values.json) {
    for (const runtime of runtimes) {
      const s = single[runtime]!
      console.log(`[${runtime}] one job, \`-- true\`, median of ${runs}: ${bareName(runtime)} ${ms(s.bareMs)}; floe run --follow local ${ms(s.localMs)} (${times(s.localRatio)}, aim ≤ 1.5×; through the API without a CLI process ${ms(s.localApiMs)}, ${times(s.localApiRatio)}); remote over loopback ${ms(s.remoteMs)} (${times(s.remoteRatio)}, aim ≤ 2×)`)
    }
    if (runscOverRunc != null) {
      const r = runscOverRunc
      console.log(`runsc / runc, one job: bare docker ${times(r.bare)}; floe run local ${times(r.local)}, API ${times(r.localApi)}, remote ${times(r.remote)}`)
    }
  }

  const bursts: Partial<Record<Runtime, BurstFigures>> = {}
  if (burstRuntimes.length > 0) {
    // the provider takes the whole burst at once, as bare docker does
    await floeJson(['provider', 'set', 'max-jobs', String(burst), '--home', provider.home])
    while ((await floeJson(['providers', '--home', client.home])).providers[0]?.offer.maxConcurrentJobs !== burst) await sleep(100)
  }
  for (const runtime of burstRuntimes) {
    await floeJson(['provider', 'set', 'runtime', runtime, '--home', provider.home])
    const bareMs = await timed(async () => { await Promise.all(Array.from({ length: burst }, async () => { await dockerRun(runtime) })) })
    const localMs = await timed(async () => { await jobBurst(provider!.home, code, {}) })
    const remoteMs = await timed(async () => { await jobBurst(client!.home, code, { provider: providerId }) })
    bursts[runtime] = { jobs: burst, bareMs, localMs, remoteMs, localRatio: localMs / bareMs, remoteRatio: remoteMs / bareMs }
    if (!values.json) console.log(`[${runtime}] ${burst} jobs at once: ${bareName(runtime)} ${ms(bareMs)}; floe local ${ms(localMs)} (${times(localMs / bareMs)}); remote ${ms(remoteMs)} (${times(remoteMs / bareMs)})`)
  }
  if (values.json) console.log(JSON.stringify({ runs, single, runscOverRunc, burst: bursts }, null, 2))
} finally {
  const stopped = await Promise.allSettled([client?.stop(), provider?.stop()])
  await rm(code, { recursive: true, force: true })
  for (const outcome of stopped) if (outcome.status === 'rejected') throw outcome.reason
}
