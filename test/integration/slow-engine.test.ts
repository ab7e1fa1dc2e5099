import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { slowEngine, type SlowEngine } from '../helpers/slow-engine.js'

// A loaded provider: its engine takes 6 s to start a container or an exec, longer than the
// 5 s the daemon once allowed a Docker request (the project's CI then saw jobs fail with
// "could not start container …: socket hang up", and workspace terminals that never connected).
const HOLD_MS = 6_000

const r = resources()
let engine: SlowEngine | undefined
afterEach(async () => {
  await r.cleanup()
  await engine?.close()
  engine = undefined
})
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

async function providerOnSlowEngine (): Promise<RunningDaemon> {
  engine = await slowEngine({ socketPath: join(tmpdir(), `floe-slow-engine-${process.pid}.sock`), holdMs: HOLD_MS })
  const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider'], { env: { DOCKER_HOST: `unix://${engine.socketPath}` } }))
  r.started.add(d.endpoint.peerId)
  return d
}

describe('a provider whose Docker engine is slow to start things', () => {
  it('runs a job whose container takes longer than 5 s to start, and a workspace whose commands take as long to begin', async () => {
    const d = await providerOnSlowEngine()
    const code = await r.codeFolder({ 'train.sh': 'echo "started late, ran anyway"\n' })
    const run = await floe(['run', '--home', d.home, '--path', code, '--json', '--follow', '--', 'sh', 'train.sh'], { timeoutMs: 90_000 })
    const job = JSON.parse(run.stdout)
    expect(job.state, `${String(job.reason)}\n${d.output().slice(-3000)}`).toBe('success')
    expect(run.code).toBe(0)
    const logs = await floeJson(['logs', job.ref, '--home', d.home])
    expect(logs.lines.map((l: any) => l.line)).toContain('started late, ran anyway')
    expect(engine?.held()).toBe(1)

    const ws = await floeJson(['workspace', 'start', 'dev', '--path', r.folder(await tempHome('floe-code-')), '--provider', d.endpoint.peerId, '--home', d.home])
    await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 60_000 }).toBe('running')
    const shell = await floe(['shell', ws.ref, '--home', d.home, '--', 'sh', '-c', 'echo "in the workspace $((6*7))"; exit 4'], { timeoutMs: 60_000 })
    expect(shell.stdout, shell.stderr).toContain('in the workspace 42')
    expect(shell.code).toBe(4)
    // the container's start and the command's exec start were both held
    expect(engine?.held()).toBeGreaterThanOrEqual(3)
    expect((await floe(['workspace', 'stop', ws.ref, '--home', d.home])).code).toBe(0)
  }, 180_000)
})
