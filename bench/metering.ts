// Metering overhead: one job of --seconds (default 60) on a second daemon over loopback,
// first with the provider stating usage every second (each statement answered with a
// voucher), then with the interval at its 600 s maximum (one statement at the start: the
// job as good as unmetered), measured in the same run. Per side (client, provider): CPU
// time (utime + stime from /proc/PID/stat) and bytes through read()/write() calls of any
// kind (rchar + wchar from /proc/PID/io: sockets, and the ledger's synced writes) over the
// job's life, each scaled to an hour, and the ratio metered / unmetered. The issue asks for a
// 10-minute job; `--seconds 600` runs it.
// Usage: node dist/bench/metering.js [--seconds 60] [--json]
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createApiClient } from '../client/api-client.js'
import { homePaths } from '../protocol/home.js'
import { floeJson, startBenchDaemon, type BenchDaemon } from './helpers.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false } } })
const seconds = Number(values.seconds)
const TICKS = 100 // USER_HZ on Linux

interface Sample { cpuMs: number, bytes: number }
function sample (pid: number): Sample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS
  const io = Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map(l => l.split(': ')).map(([k, v]) => [k, Number(v)]))
  return { cpuMs, bytes: (io.rchar ?? 0) + (io.wchar ?? 0) }
}

async function measure (client: BenchDaemon, provider: BenchDaemon, code: string, metering: string): Promise<{ client: Sample, provider: Sample, statements: number, runMs: number }> {
  await floeJson(['provider', 'set', 'metering', metering, '--home', provider.home])
  const paths = homePaths(client.home)
  const api = createApiClient({ url: JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')).url, token: readFileSync(paths.apiToken, 'utf8').trim() })
  const job = await api.call('jobRun', { path: code, command: ['sleep', String(seconds)], requirements: {}, provider: provider.peerId, timeoutSeconds: seconds + 600 })
  let state: any = job
  while (state.state !== 'running') { await new Promise(resolve => setTimeout(resolve, 100)); state = await floeJson(['status', job.ref, '--home', client.home]) }
  const c0 = sample(client.child.pid as number)
  const p0 = sample(provider.child.pid as number)
  while (!['success', 'failed', 'stopped', 'lost', 'timeout'].includes(state.state)) { await new Promise(resolve => setTimeout(resolve, 500)); state = await floeJson(['status', job.ref, '--home', client.home]) }
  const c1 = sample(client.child.pid as number)
  const p1 = sample(provider.child.pid as number)
  if (state.state !== 'success') throw new Error(`job ${job.ref} ${state.state}: ${state.reason}`)
  const earnings = await floeJson(['provider', 'earnings', '--home', provider.home])
  const row = earnings.jobs.find((j: any) => j.jobId === job.jobId)
  const ledger = await floeJson(['billing', 'statement', provider.peerId, '--home', client.home])
  if (!ledger.agree) throw new Error('the statements disagree')
  return { client: { cpuMs: c1.cpuMs - c0.cpuMs, bytes: c1.bytes - c0.bytes }, provider: { cpuMs: p1.cpuMs - p0.cpuMs, bytes: p1.bytes - p0.bytes }, statements: row == null ? 0 : Math.round(state.receipt.runMs / 1000), runMs: state.receipt.runMs }
}

const provider = await startBenchDaemon(undefined, ['--provider'])
const client = await startBenchDaemon()
const code = await mkdtemp(join(tmpdir(), 'floe-bench-code-'))
try {
  await floeJson(['provider', 'set', 'price.cpu', '1', '--home', provider.home])
  await floeJson(['provider', 'set', 'voucher-grace', '60s', '--home', provider.home])
  const address = (await floeJson(['id', '--home', provider.home])).addresses[0]
  await floeJson(['connect', address, '--home', client.home])
  while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await new Promise(resolve => setTimeout(resolve, 200))
  const metered = await measure(client, provider, code, '1s')
  const baseline = await measure(client, provider, code, '600s')
  const perHour = (x: number, runMs: number): number => x * 3_600_000 / runMs
  const rows = (['client', 'provider'] as const).map(side => ({
    side,
    meteredCpuMsPerHour: perHour(metered[side].cpuMs, metered.runMs),
    baselineCpuMsPerHour: perHour(baseline[side].cpuMs, baseline.runMs),
    meteredMiBPerHour: perHour(metered[side].bytes, metered.runMs) / 2 ** 20,
    baselineMiBPerHour: perHour(baseline[side].bytes, baseline.runMs) / 2 ** 20
  }))
  if (values.json === true) console.log(JSON.stringify({ seconds, rows }, null, 2))
  else {
    console.log(`a ${seconds} s job on a second daemon: statements every 1 s vs once (600 s interval)`)
    for (const r of rows) {
      console.log(`${r.side.padEnd(8)} CPU ${(r.meteredCpuMsPerHour / 1000).toFixed(1)} s/h vs ${(r.baselineCpuMsPerHour / 1000).toFixed(1)} s/h (${(r.meteredCpuMsPerHour / r.baselineCpuMsPerHour).toFixed(2)}×); ` +
        `I/O ${r.meteredMiBPerHour.toFixed(1)} MiB/h vs ${r.baselineMiBPerHour.toFixed(1)} MiB/h (${(r.meteredMiBPerHour / r.baselineMiBPerHour).toFixed(2)}×)`)
    }
  }
} finally {
  await client.stop()
  await provider.stop()
  await rm(code, { recursive: true, force: true })
}
