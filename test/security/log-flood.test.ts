import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectToProvider, floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { removeLeftContainers } from '../helpers/containers.js'

// A job printing 60 KiB lines as fast as it can must not grow the provider's (or the
// client's) memory with what it prints: the bytes of log held in memory are bounded
// (job-log.ts MEMORY_BYTES and READ_BYTES; job-runner.ts PENDING_LOG_BYTES).

const MiB = 1024 * 1024
const LINES = 1000
const LINE_BYTES = 60 * 1024
/**
 * What the flood (60 MiB of log) may add to a daemon's resident memory at its peak. What floe
 * holds is bounded: 4 MiB of lines per job (job-log.ts MEMORY_BYTES), 1 MiB per read and
 * per batch saved (READ_BYTES, job-runner.ts PENDING_LOG_BYTES); the V8 heap stays at ~45 MiB
 * after a collection (it was ~100 MiB, every line held, before the bound: see the heap test
 * in test/unit/daemon/provider/job-log.test.ts). The rest of the growth is memory V8 and
 * malloc keep for reuse after the ~0.5 MiB of short-lived copies each line makes on its way
 * (frames, strings, JSON, cbor, encryption): measured +125 MiB at peak on the provider,
 * +90 MiB on the client. 192 MiB catches a daemon holding the flood on top of that.
 */
const RSS_BUDGET = 192 * MiB

const r = resources()
let provider: RunningDaemon
let client: RunningDaemon

async function rss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024
}

async function runJob (command: string): Promise<any> {
  const code = r.folder(await tempHome('floe-code-'))
  await writeFile(join(code, 'run.sh'), 'echo code\n')
  const started = await floe(['run', '--home', client.home, '--path', code, '--env', 'busybox', '--json', '--', 'sh', '-c', command], { timeoutMs: 60_000 })
  expect(started.code, started.stderr).toBe(0)
  const ref = JSON.parse(started.stdout).ref
  for (const deadline = Date.now() + 180_000; ;) {
    const job = await floeJson(['status', ref, '--home', client.home])
    if (['success', 'failed', 'stopped', 'lost', 'refused'].includes(job.state)) return job
    if (Date.now() > deadline) throw new Error(`job ${ref} did not end: ${job.state}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

beforeAll(async () => {
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  client = r.daemon(await startDaemon(r.folder(await tempHome())))
  await connectToProvider(client, provider)
}, 60_000)

afterAll(async () => {
  const peers = client == null ? [] : [client.endpoint.peerId]
  await r.cleanup()
  await removeLeftContainers(peers)
})

describe('log flood', () => {
  it('a job printing 60 KiB lines fast leaves both daemons\' memory within budget, and every line arrives', async () => {
    // warm up (Docker client, job paths), then the baseline
    expect((await runJob('echo warm')).state).toBe('success')
    const pids = { provider: provider.process.pid as number, client: client.process.pid as number }
    const before = { provider: await rss(pids.provider), client: await rss(pids.client) }
    const peak = { ...before }
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        peak.provider = Math.max(peak.provider, await rss(pids.provider))
        peak.client = Math.max(peak.client, await rss(pids.client))
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    let job: any
    try {
      job = await runJob(`l=$(head -c ${LINE_BYTES} /dev/zero | tr '\\0' x); i=0; while [ $i -lt ${LINES} ]; do echo "$i $l"; i=$((i+1)); done; echo done`)
    } finally {
      sampling = false
      await sampler
    }
    // the daemons idle: what they still hold shows (V8 collects when idle)
    const after = { provider: Infinity, client: Infinity }
    for (let i = 0; i < 20; i++) {
      await new Promise(resolve => setTimeout(resolve, 500))
      after.provider = Math.min(after.provider, await rss(pids.provider))
      after.client = Math.min(after.client, await rss(pids.client))
    }
    const report = (who: 'provider' | 'client'): string => `${who}: ${(before[who] / MiB).toFixed(0)} MiB before, ${(peak[who] / MiB).toFixed(0)} MiB at peak, ${(after[who] / MiB).toFixed(0)} MiB after`
    console.log(`log flood of ${LINES} lines of ${LINE_BYTES / 1024} KiB: ${report('provider')}; ${report('client')}`)
    expect(job.state, job.reason).toBe('success')
    // every line arrived, whole (a 60 KiB line is under the 64 KiB a line may be)
    const last = await floe(['logs', job.ref, '--home', client.home, '--json'], { timeoutMs: 60_000 })
    const lines = JSON.parse(last.stdout).lines.filter((l: any) => l.stream === 'stdout')
    expect(lines.filter((l: any) => /^[0-9]+ x+$/.test(l.line)).map((l: any) => l.line.length)).toEqual(Array.from({ length: LINES }, (_, i) => `${i} `.length + LINE_BYTES))
    expect(lines.at(-1).line).toBe('done')
    expect(peak.provider - before.provider, report('provider')).toBeLessThan(RSS_BUDGET)
    expect(peak.client - before.client, report('client')).toBeLessThan(RSS_BUDGET)
  }, 300_000)
})
