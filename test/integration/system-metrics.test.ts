import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { hostileClient } from '../helpers/hostile-client.js'
import { JOB_PROTOCOL, JOB_PROTOCOL_V1_2 } from '../../protocol/jobs/wire.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { FLOE_BIN, TEST_DAEMON_FLAGS, floe, floeJson, resources, tempHome } from '../helpers/floe.js'

const r = resources()
const SECRET = 'a-webhook-secret-of-the-user'
/** a job that keeps one CPU busy for 3 s (busybox sh) */
const BURN = 'end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do :; done; echo burnt'

interface Hook { headers: Record<string, string | string[] | undefined>, body: string }
const hooks: Hook[] = []
let server: Server
let home: string
let daemon: { child: ChildProcess, stdout: () => string, exited: Promise<unknown> } | undefined
let peerId = ''
let job: any

/** `floe daemon --log-format pretty --provider` on `home`, its stdout kept; resolves once it prints its ready line. */
async function startPretty (): Promise<NonNullable<typeof daemon>> {
  const child = spawn(process.execPath, [FLOE_BIN, 'daemon', '--home', home, ...TEST_DAEMON_FLAGS, '--provider', '--log-format', 'pretty'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', chunk => { out += chunk })
  child.stderr?.on('data', chunk => { err += chunk })
  const exited = new Promise(resolve => child.on('exit', resolve))
  // (expect.poll works inside tests only)
  for (const deadline = Date.now() + 30_000; !out.includes('floe ready') && child.exitCode == null && Date.now() < deadline;) await new Promise(resolve => setTimeout(resolve, 50))
  if (!out.includes('floe ready')) throw new Error(`the daemon did not get ready:\n${out}\n${err}`)
  return { child, stdout: () => out, exited }
}

async function stopDaemon (): Promise<void> {
  if (daemon == null) return
  daemon.child.kill('SIGTERM')
  await daemon.exited
  daemon = undefined
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => { body += chunk })
    req.on('end', () => { hooks.push({ headers: req.headers, body }); res.end('ok') })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  home = r.folder(await tempHome())
  await writeFile(join(home, 'config.json'), JSON.stringify({ notify: { webhook: `http://127.0.0.1:${port}/hook`, webhookSecret: SECRET, desktop: false } }))
  daemon = await startPretty()
  peerId = (await floeJson(['id', '--home', home])).peerId
  const code = await r.codeFolder({ 'burn.sh': BURN + '\n' })
  const run = await floe(['run', '--home', home, '--path', code, '--json', '--follow', '--cpu', '1', '--', 'sh', 'burn.sh'], { timeoutMs: 90_000 })
  expect(run.code, run.stderr).toBe(0)
  job = JSON.parse(run.stdout)
}, 120_000)

afterAll(async () => {
  await stopDaemon()
  await r.cleanup()
  await new Promise(resolve => server?.close(resolve))
  expect(await removeLeftContainers(peerId === '' ? [] : [peerId]), 'containers left behind').toEqual([])
})

describe('a job that burns CPU for 3 s', () => {
  it('has system samples: ≥ 2, CPU above 50 % at some point, memory and disk used; floe status shows their summary', async () => {
    expect(job.state).toBe('success')
    const status = await floeJson(['status', job.ref, '--home', home])
    const series = status.system.series as Array<{ at: number, cpuPercent: number, memoryBytes: number, diskBytes?: number }>
    expect(series.length).toBeGreaterThanOrEqual(2)
    expect(Math.max(...series.map(s => s.cpuPercent))).toBeGreaterThan(50)
    expect(series.every(s => s.memoryBytes > 0)).toBe(true)
    expect(series.some(s => (s.diskBytes ?? 0) > 0)).toBe(true)
    // at most one a second
    for (let i = 1; i < series.length; i++) expect(series[i]!.at - series[i - 1]!.at).toBeGreaterThanOrEqual(900)
    expect(status.system.summary).toMatchObject({ samples: series.length, gpuMaxPercent: null })
    expect(status.system.summary.cpuMaxPercent).toBeGreaterThan(50)

    const text = await floe(['status', job.ref, '--home', home])
    expect(text.stdout).toMatch(/^system {7}CPU avg [\d.]+% max [\d.]+%, memory peak [\d.]+ \w+, disk [\d.]+ \w+; \d+ samples$/m)
  })

  it('posts the end to the webhook: JSON, the job\'s fields, signed with the secret', async () => {
    await expect.poll(() => hooks.length, { timeout: 10_000, interval: 50 }).toBe(1)
    const hook = hooks[0]!
    expect(hook.headers['content-type']).toBe('application/json')
    expect(hook.headers['x-floe-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(hook.body).digest('hex')}`)
    const body = JSON.parse(hook.body)
    expect(body).toMatchObject({ event: 'job.finished', ref: job.ref, jobId: job.jobId, state: 'success', exitCode: 0, outputCid: job.outputCid, cost: job.receipt.cost })
    expect(body.durationSeconds).toBeGreaterThan(2)
    expect(body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/jobs\//)
  })

  it('prints human lines on stdout with --log-format pretty: ready, the job started and ended, the provider running it', () => {
    const out = daemon!.stdout()
    expect(out).toMatch(/floe ready — peer \S+, API 127\.0\.0\.1:\d+; web UI: run `floe ui`/)
    expect(out).toContain(`job ${job.ref} started on this node`)
    expect(out).toMatch(new RegExp(`job ${job.ref.replace(/[/.]/g, '\\$&')} success in \\d+\\.\\ds`))
    expect(out).toMatch(/running job \S+ for \S+/)
    // no JSON on the terminal
    expect(out.split('\n').some(line => line.startsWith('{'))).toBe(false)
  })

  it('charts CPU, memory and disk on the job page, beside the training metrics', async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const errors: string[] = []
      page.on('pageerror', err => { errors.push(err.message) })
      const { url } = await floeJson(['ui', '--no-open', '--home', home])
      await page.goto(url)
      await page.getByRole('heading', { name: 'Projects' }).waitFor()
      await page.goto(`${new URL(url).origin}/jobs/${encodeURIComponent(job.ref)}`)
      const system = page.getByRole('region', { name: 'system metrics' })
      await system.getByText(/CPU avg [\d.]+% · max [\d.]+% · memory peak/).waitFor()
      for (const chart of ['CPU %', 'memory (MiB)', 'disk (MiB)']) {
        expect(Number(await system.locator(`[data-metric="${chart}"]`).getAttribute('data-points')), chart).toBeGreaterThanOrEqual(2)
      }
      expect(await system.locator('[data-metric^="GPU"]').count()).toBe(0)
      // uPlot drew its canvas
      expect(await system.locator('[data-metric="CPU %"] canvas').count()).toBeGreaterThan(0)
      const artifacts = resolve(import.meta.dirname, '../../test-artifacts')
      await mkdir(artifacts, { recursive: true })
      await system.screenshot({ path: join(artifacts, 'system-charts.png') })
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)

  it(`streams samples to a client over ${JOB_PROTOCOL} and none over ${JOB_PROTOCOL_V1_2}, whose clients do not know them`, async () => {
    const id = await floeJson(['id', '--home', home])
    const client = await hostileClient({ peerId: id.peerId, address: id.addresses[0] })
    try {
      const code = await client.folder({ 'burn.sh': await client.putRaw(new TextEncoder().encode(BURN + '\n')) })
      const [current, older] = await Promise.all([JOB_PROTOCOL, JOB_PROTOCOL_V1_2].map(async protocol => await client.submit({ code, command: ['sh', '-c', BURN] }, { protocol, timeoutMs: 60_000 })))
      for (const { messages } of [current!, older!]) expect(messages.at(-1)?.type).toBe('finished')
      const samples = current!.messages.flatMap(m => m.type === 'system' ? m.samples : [])
      expect(samples.length, JSON.stringify(current!.messages.map(m => m.type === 'state' ? m : m.type === 'lines' ? m.lines.map(l => l.line) : m.type))).toBeGreaterThanOrEqual(1)
      expect(older!.messages.filter(m => m.type === 'system')).toEqual([])
    } finally {
      await client.stop()
    }
  }, 90_000)

  it('keeps the samples after a daemon restart', async () => {
    const before = (await floeJson(['status', job.ref, '--home', home])).system.series
    await stopDaemon()
    daemon = await startPretty()
    const after = (await floeJson(['status', job.ref, '--home', home])).system.series
    expect(after).toEqual(before)
  }, 60_000)
})
