// Idle daemon figures against a bare Node process measured in the same run:
//   - time from spawn to ready (daemon: its HTTP API answers GET /api/v1/id; baseline:
//     `node -e "setInterval(()=>{},1e3)"` has printed its first line),
//   - resident memory (VmRSS) at ready and after --seconds (default 60) of idling.
// Usage: node dist/bench/daemon-idle.js [--seconds N] [--json]
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { startBenchDaemon } from './helpers.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, json: { type: 'boolean', default: false } } })
const idleSeconds = Number(values.seconds)

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

const home = await mkdtemp(join(tmpdir(), 'floe-bench-'))
// A first start creates the identity, token, config and stores; the measured start is a normal restart.
await (await startBenchDaemon(home)).stop()

const baseline = await startBaseline()
const t0 = performance.now()
const started = await startBenchDaemon(home)
const daemon = { child: started.child, readyMs: performance.now() - t0 }
const atReady = { baseline: rssMiB(baseline.child.pid!), daemon: rssMiB(daemon.child.pid!) }
await sleep(idleSeconds * 1000)
const afterIdle = { baseline: rssMiB(baseline.child.pid!), daemon: rssMiB(daemon.child.pid!) }
baseline.child.kill('SIGKILL')
await started.stop()
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
