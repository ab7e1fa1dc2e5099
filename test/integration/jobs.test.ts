import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApiClient } from '../../client/api-client.js'
import { containersOf, removeLeftContainers } from '../helpers/containers.js'
import { FLOE_BIN, floe, floeJson, addr, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })

afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

/** `floe run --json --follow` in a code folder: the final job and the CLI's exit code. */
async function runFollow (d: RunningDaemon, code: string, args: string[]): Promise<{ job: any, code: number | null, stderr: string }> {
  const result = await floe(['run', '--home', d.home, '--path', code, '--json', '--follow', ...args], { timeoutMs: 60_000 })
  return { job: result.stdout === '' ? null : JSON.parse(result.stdout), code: result.code, stderr: result.stderr }
}

/** `floe run --json` (not followed): the job as submitted. */
async function submit (d: RunningDaemon, code: string, args: string[]): Promise<any> {
  const result = await floe(['run', '--home', d.home, '--path', code, '--json', ...args])
  if (result.code !== 0) throw new Error(`floe run exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

async function waitState (d: RunningDaemon, ref: string, states: string[], timeout = 20_000): Promise<any> {
  let job: any
  try {
    await expect.poll(async () => { job = await floeJson(['status', ref, '--home', d.home]); return states.includes(job.state) }, { timeout, interval: 200 }).toBe(true)
  } catch (err: any) {
    // what the job did meanwhile, and what its daemon said
    throw new Error(`${ref} not ${states.join('/')} within ${timeout / 1000} s: ${JSON.stringify({ state: job?.state, reason: job?.reason, states: job?.states, attempts: job?.attempts })}\n${d.output().slice(-4000)}`, { cause: err })
  }
  return job
}

describe('jobs on the local provider', () => {
  it('returns /output byte-equal under its CID, propagates the exit code, and mounts one job\'s output into the next', async () => {
    const d = await r.start('--provider')
    const code = await r.codeFolder({ 'make.sh': 'printf "weights %s\\n" "$1" > /output/model.txt\nhead -c 3000 /code/blob > /output/blob\nexit 3\n', blob: 'x'.repeat(5000) })
    const first = await runFollow(d, code, ['-m', 'first', '--', 'sh', 'make.sh', '0.31'])
    expect(first.code).toBe(3)
    expect(first.job.ref).toMatch(/^[^/]+\/default\/1$/)
    expect(first.job).toMatchObject({ state: 'failed', exitCode: 3, reason: 'exit code 3', message: 'first', provider: d.endpoint.peerId })
    expect(first.job.receipt).toMatchObject({ state: 'failed', exitCode: 3, provider: d.endpoint.peerId, client: d.endpoint.peerId, specCid: first.job.specCid, outputCid: first.job.outputCid })
    expect(first.job.states.map((s: any) => s.state)).toEqual(['queued', 'matching', 'preparing', 'running', 'uploading', 'failed'])

    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    const written = await floeJson(['output', 'default/1', out, '--home', d.home])
    expect(written.cid).toBe(first.job.outputCid)
    expect(await readFile(join(out, 'model.txt'), 'utf8')).toBe('weights 0.31\n')
    expect((await readFile(join(out, 'blob'))).equals(Buffer.from('x'.repeat(3000)))).toBe(true)
    // the same bytes give the same CID on import
    const dataset = await floeJson(['data', 'upload', out, '--name', 'check', '--home', d.home])
    expect(dataset.cid).toBe(first.job.outputCid)

    const second = await runFollow(d, code, ['--data', 'default/1/output:/model', '--', 'cat', '/model/model.txt'])
    expect(second.code).toBe(0)
    expect(second.job.ref).toMatch(/^[^/]+\/default\/2$/)
    expect(second.job).toMatchObject({ state: 'success', exitCode: 0, inputs: [{ ref: 'default/1/output', cid: first.job.outputCid, mount: '/model' }] })
    const logs = await floeJson(['logs', 'default/2', '--home', d.home])
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line)).toEqual(['weights 0.31'])

    // training metrics printed as FloydHub-style lines become series, the latest shown in the status
    const demo = await runFollow(d, join(import.meta.dirname, '../../examples/hello'), ['--', 'sh', 'train.sh'])
    expect(demo.job).toMatchObject({ state: 'success', metrics: { loss: { value: 0.07, step: 5 } } })
    const api = createApiClient({ url: d.endpoint.url, token: d.token })
    const { series } = await api.call('jobMetrics', { ref: demo.job.ref })
    expect(series.loss?.map(p => [p.step, p.value])).toEqual([[1, 0.6], [2, 0.36], [3, 0.21], [4, 0.12], [5, 0.07]])
    const table = await floe(['status', '--home', d.home])
    expect(table.stdout).toMatch(/METRICS/)
    expect(table.stdout).toMatch(/loss=0\.07/)
    const cloned = join(r.folder(await tempHome('floe-clone-')), 'code')
    await floeJson(['clone', '2', cloned, '--home', d.home])
    expect(await readFile(join(cloned, 'make.sh'), 'utf8')).toBe(await readFile(join(code, 'make.sh'), 'utf8'))
  })

  it('streams stdout and stderr lines in order while the job runs', async () => {
    const d = await r.start('--provider')
    const code = await r.codeFolder()
    const child = spawn(process.execPath, [FLOE_BIN, 'run', '--home', d.home, '--path', code, '--follow', '--', 'sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 3; echo four'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const seen: Array<{ text: string, at: number }> = []
    child.stdout.on('data', chunk => { for (const text of String(chunk).split('\n').filter(Boolean)) seen.push({ text, at: Date.now() }) })
    let stderr = ''
    child.stderr.on('data', chunk => { stderr += chunk })
    const exitCode = await new Promise(resolve => child.on('close', resolve))
    expect(exitCode).toBe(0)
    expect(seen.map(s => s.text)).toEqual(['one', 'three', 'four'])
    expect(stderr).toContain('two\n')
    // "three" was printed while the job slept, seconds before it ended
    expect((seen[2]?.at ?? 0) - (seen[1]?.at ?? 0)).toBeGreaterThan(2000)
    const logs = await floeJson(['logs', '1', '--home', d.home])
    expect(logs.lines.filter((l: any) => l.stream !== 'system').map((l: any) => [l.stream, l.line])).toEqual([['stdout', 'one'], ['stderr', 'two'], ['stdout', 'three'], ['stdout', 'four']])
    expect(logs.lines.map((l: any) => l.seq)).toEqual(logs.lines.map((_: any, i: number) => i + 1))
  })

  it('kills a job at its time limit and on stop, keeping what it wrote; input mounts are read-only', async () => {
    const d = await r.start('--provider')
    const code = await r.codeFolder()
    const timed = await runFollow(d, code, ['--timeout', '2s', '--', 'sh', '-c', 'echo partial > /output/p; sleep 60'])
    expect(timed.code).toBe(124)
    expect(timed.job).toMatchObject({ state: 'timeout', reason: 'killed: past its time limit' })
    expect(timed.job.receipt.runMs).toBeLessThan(15_000)
    expect(timed.job.outputCid).not.toBeNull()

    const started = await submit(d, code, ['--', 'sleep', '60'])
    await waitState(d, started.ref, ['running'])
    const stopped = await floeJson(['stop', started.ref, '--home', d.home])
    expect(stopped).toMatchObject({ state: 'stopped', reason: 'stopped by the client' })
    expect(await containersOf([d.endpoint.peerId])).toEqual([])

    const data = r.folder(await tempHome('floe-data-'))
    await writeFile(join(data, 'train.csv'), 'a,b\n1,2\n')
    await floeJson(['data', 'upload', data, '--name', 'table', '--home', d.home])
    const write = await runFollow(d, code, ['--data', 'table:/data', '--', 'sh', '-c', 'cat /data/train.csv; touch /data/new'])
    expect(write.code).toBe(1)
    const lines = (await floeJson(['logs', write.job.ref, '--home', d.home])).lines
    expect(lines.map((l: any) => l.line)).toContain('1,2')
    expect(lines.filter((l: any) => l.stream === 'stderr').map((l: any) => l.line).join('\n')).toMatch(/Read-only file system|Permission denied/)
  })

  it('refuses bad requests before anything runs, with a clear message', async () => {
    const d = await r.start('--provider')
    const code = await r.codeFolder()
    const cases: Array<[string[], RegExp]> = [
      [['--env', 'tensorflow-9', '--', 'true'], /unknown environment "tensorflow-9": no provider offers it/],
      [['--'], /no command given/],
      [['--data', 'nosuch:2:/data', '--', 'true'], /no dataset named "nosuch"/],
      [['--data', 'bafkqaaa:/d', '--data', 'bafkqaaa:/d', '--', 'true'], /two inputs are mounted at \/d/],
      [['--data', 'bafkqaaa:/code', '--', 'true'], /cannot mount an input at \/code/],
      [['--data', 'bafkqaaa:/output/x', '--', 'true'], /cannot mount an input at \/output\/x/],
      [['--data', 'data', '--', 'true'], /expected REF:MOUNT/],
      [['--cpu', '64', '--', 'true'], /no provider can take this job — this node: needs 64 CPUs, \d+ free/],
      [['--max-price', '0.0001', '--', 'true'], /above the 0\.0001\/h limit/],
      [['--data', 'default/9/output:/m', '--', 'true'], /no job default\/9/]
    ]
    for (const [args, message] of cases) {
      const result = await floe(['run', '--home', d.home, '--path', code, ...args])
      expect(result.code, args.join(' ')).toBe(1)
      expect(result.stderr, args.join(' ')).toMatch(message)
      expect(result.stderr.split('\n').filter(Boolean), 'one line').toHaveLength(1)
    }
    expect(await floeJson(['status', '--home', d.home])).toEqual([])
  })

  it('resumes a running job after its daemon restarts, losing no output', async () => {
    const home = r.folder(await tempHome())
    let d = r.daemon(await startDaemon(home, ['--provider']))
    r.started.add(d.endpoint.peerId)
    const code = await r.codeFolder()
    const job = await submit(d, code, ['--', 'sh', '-c', 'echo before; sleep 4; echo after; echo kept > /output/k'])
    await waitState(d, job.ref, ['running'])
    expect(await d.stop('SIGTERM')).toBe(0)
    d = r.daemon(await startDaemon(home, ['--provider']))
    const result = await floe(['logs', '-f', job.ref, '--home', home], { timeoutMs: 40_000 })
    expect(result.stdout).toBe('before\nafter\n')
    const done = await floeJson(['status', job.ref, '--home', home])
    expect(done).toMatchObject({ state: 'success', exitCode: 0 })
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', job.ref, out, '--home', home])
    expect(await readFile(join(out, 'k'), 'utf8')).toBe('kept\n')
  })
})

describe('jobs between daemons', () => {
  it('runs on a remote provider, and after the provider dies mid-job retries on another that succeeds', async () => {
    const first = await r.start('--provider')
    const second = await r.start('--provider')
    const client = await r.start()
    // the first is cheaper: it is tried first
    await floeJson(['provider', 'set', 'price.cpu', '0.5', '--home', second.home])
    for (const p of [first, second]) await floeJson(['connect', await addr(p), '--home', client.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(2)
    const code = await r.codeFolder({ 'hello.txt': 'from the client\n' })

    const remote = await runFollow(client, code, ['--provider', second.endpoint.peerId, '--', 'sh', '-c', 'cat hello.txt; cp hello.txt /output/'])
    expect(remote.code).toBe(0)
    expect(remote.job).toMatchObject({ state: 'success', provider: second.endpoint.peerId })
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', remote.job.ref, out, '--home', client.home])
    expect(await readFile(join(out, 'hello.txt'), 'utf8')).toBe('from the client\n')
    const served = await floeJson(['provider', 'jobs', '--home', second.home])
    expect(served.jobs).toMatchObject([{ jobId: remote.job.jobId, client: client.endpoint.peerId, state: 'success', exitCode: 0, outputCid: remote.job.outputCid, cost: remote.job.receipt.cost }])
    expect(served.earned).toBe(remote.job.receipt.cost)

    const job = await submit(client, code, ['--retries', '1', '--', 'sh', '-c', 'sleep 3; echo done > /output/d'])
    const running = await waitState(client, job.ref, ['running'])
    expect(running.provider).toBe(first.endpoint.peerId)
    await first.stop('SIGKILL')
    const final = await waitState(client, job.ref, ['success', 'failed', 'lost', 'stopped'], 40_000)
    expect(final).toMatchObject({ state: 'success', provider: second.endpoint.peerId })
    expect(final.attempts.map((a: any) => [a.provider, a.outcome])).toEqual([[first.endpoint.peerId, 'accepted'], [first.endpoint.peerId, 'lost'], [second.endpoint.peerId, 'accepted']])
    expect(final.states.map((s: any) => s.state)).toContain('matching')
    // what happened counts in the next ranking: the second carried both its jobs to an end
    const ranking = await floeJson(['run', '--dry-run', '--home', client.home])
    expect(ranking.ranked).toMatchObject([{ peerId: second.endpoint.peerId, reliability: 1 }])
    // the dead provider's container ran on; its daemon, restarted, finds it by its label and ends the job
    const restarted = r.daemon(await startDaemon(first.home, ['--provider']))
    await expect.poll(async () => await containersOf([client.endpoint.peerId]), { timeout: 20_000 }).toEqual([])
    expect(restarted.output()).toMatch(/resuming a job after a restart/)
  }, 120_000) // three daemons, a provider killed and its loss waited for (alone: 37 s; under a loaded CI run it passed 60 s)
})

describe('a client that vanishes', () => {
  it('does not stop its job: the provider keeps the output for pickup, the restarted client collects it, and the provider cleans up after keep-output', async () => {
    const provider = await r.start('--provider')
    const clientHome = r.folder(await tempHome())
    let client = r.daemon(await startDaemon(clientHome))
    r.started.add(client.endpoint.peerId)
    await floeJson(['provider', 'set', 'keep-output', '6s', '--home', provider.home])
    const providerAddr = await addr(provider)
    await floeJson(['connect', providerAddr, '--home', clientHome])
    await expect.poll(async () => (await floeJson(['providers', '--home', clientHome])).providers.length, { timeout: 10_000 }).toBe(1)
    const code = await r.codeFolder()
    const job = await submit(client, code, ['--', 'sh', '-c', 'echo start; sleep 2; echo result > /output/r; echo end'])
    await waitState(client, job.ref, ['running'])
    await client.stop('SIGKILL')
    // the job ends on the provider with nobody listening; its output stays pinned there
    await expect.poll(async () => (await floeJson(['repo', 'stat', '--home', provider.home])).pins, { timeout: 20_000 }).toBe(2)

    client = r.daemon(await startDaemon(clientHome, ['--bootstrap', providerAddr]))
    const done = await waitState(client, job.ref, ['success', 'failed', 'lost'], 20_000)
    expect(done).toMatchObject({ state: 'success', provider: provider.endpoint.peerId })
    expect((await floeJson(['logs', job.ref, '--home', clientHome])).lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line)).toEqual(['start', 'end'])
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', job.ref, out, '--home', clientHome])
    expect(await readFile(join(out, 'r'), 'utf8')).toBe('result\n')
    // past keep-output the provider lets go of it
    await expect.poll(async () => (await floeJson(['repo', 'stat', '--home', provider.home])).pins, { timeout: 15_000 }).toBe(0)
  })
})

describe('provider refusals', () => {
  it('refuses a job from a denied peer with its reason, and the client says every provider refused', async () => {
    const provider = await r.start('--provider')
    const client = await r.start()
    await floeJson(['connect', await addr(provider), '--home', client.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(1)
    await floeJson(['provider', 'set', 'deny', client.endpoint.peerId, '--home', provider.home])
    const code = await r.codeFolder()
    const denied = await runFollow(client, code, ['--', 'true'])
    expect(denied.code).toBe(1)
    expect(denied.job).toMatchObject({ state: 'failed', reason: expect.stringMatching(/every provider refused the job: .*not-allowed: peer .* may not submit jobs here/) })
  })
})
