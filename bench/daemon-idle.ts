// Idle daemon figures against a bare Node process measured in the same run:
//   - time from spawn to ready (daemon: its HTTP API answers GET /api/v1/id; baseline:
//     `node -e "setInterval(()=>{},1e3)"` has printed its first line),
//   - resident memory (VmRSS) at ready and after --seconds (default 60) of idling.
// Usage: node dist/bench/daemon-idle.js [--seconds N] [--json]
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createApiClient } from '../client/api-client.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false } } })
const idleSeconds = Number(values.seconds)
const FLOE_BIN = resolve(import.meta.dirname, '../bin/floe.js')

function rssMiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1])
  return kib / 1024
}

interface Started { child: ChildProcess, readyMs: number }

async function startBaseline (): Promise<Started> {
  const t0 = performance.now()
  const child = spawn(process.execPath, ['-e', "console.log('ready'); setInterval(()=>{},1e3)"], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>(resolve => child.stdout?.once('data', () => resolve()))
  return { child, readyMs: performance.now() - t0 }
}

async function startDaemon (home: string): Promise<Started> {
  const paths = homePaths(home)
  const t0 = performance.now()
  const child = spawn(process.execPath, [FLOE_BIN, 'daemon', '--home', home, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] })
  while (true) {
    try {
      const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
      const token = readFileSync(paths.apiToken, 'utf8').trim()
      await createApiClient({ url: endpoint.url, token }).call('id', {})
      return { child, readyMs: performance.now() - t0 }
    } catch {
      if (child.exitCode != null) throw new Error(`daemon exited with ${child.exitCode}`)
      await sleep(5)
    }
  }
}

const home = await mkdtemp(join(tmpdir(), 'floe-bench-'))
// A first start creates the identity, token and config; the measured start is a normal restart.
const warm = await startDaemon(home)
warm.child.kill('SIGTERM')
await new Promise(resolve => warm.child.once('exit', resolve))

const baseline = await startBaseline()
const daemon = await startDaemon(home)
const atReady = { baseline: rssMiB(baseline.child.pid!), daemon: rssMiB(daemon.child.pid!) }
await sleep(idleSeconds * 1000)
const afterIdle = { baseline: rssMiB(baseline.child.pid!), daemon: rssMiB(daemon.child.pid!) }
baseline.child.kill('SIGKILL')
daemon.child.kill('SIGTERM')
await new Promise(resolve => daemon.child.once('exit', resolve))
await rm(home, { recursive: true, force: true })

const result = {
  node: process.version,
  idleSeconds,
  readyMs: { daemon: daemon.readyMs, baseline: baseline.readyMs, ratio: daemon.readyMs / baseline.readyMs },
  rssAtReadyMiB: { ...atReady, ratio: atReady.daemon / atReady.baseline },
  rssAfterIdleMiB: { ...afterIdle, ratio: afterIdle.daemon / afterIdle.baseline }
}
if (values.json) {
  console.log(JSON.stringify(result, null, 2))
} else {
  const f = (n: number): string => n.toFixed(1)
  console.log(`idle daemon vs bare node (${process.version}), ${idleSeconds} s idle`)
  console.log(`  ${'start → ready'.padEnd(18)} daemon ${f(result.readyMs.daemon)} ms   baseline ${f(result.readyMs.baseline)} ms   ratio ${result.readyMs.ratio.toFixed(2)}×`)
  console.log(`  ${'RSS at ready'.padEnd(18)} daemon ${f(atReady.daemon)} MiB   baseline ${f(atReady.baseline)} MiB   ratio ${result.rssAtReadyMiB.ratio.toFixed(2)}×`)
  console.log(`  ${`RSS after ${idleSeconds} s`.padEnd(18)} daemon ${f(afterIdle.daemon)} MiB   baseline ${f(afterIdle.baseline)} MiB   ratio ${result.rssAfterIdleMiB.ratio.toFixed(2)}×`)
}
