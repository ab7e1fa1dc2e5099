// What a big job log costs in the web UI, against a plain text render of the same log in the
// same browser and run. A provider daemon runs a job per size in --lines that prints that
// many lines (`seq 1 N | sed 's/^/row /'`, untimed). Then, in headless Chromium signed in to
// the daemon, per size and run: (a) floe's job page: from navigation until the log shows its
// last line (the virtualised list holds the latest MAX_LINES lines, components/LogView.tsx),
// with the page's JS heap after; (b) the baseline: the same log fetched whole as text
// (/api/v1/jobs/log.txt) and put in one <pre>, timed until it is laid out and a frame drawn,
// and its heap; (c) scrolling: 60 frames moving the list (or the <pre>) through the log, the
// median and worst frame; (d) a search with few matches over the whole log: the daemon's
// (jobLogSearch, one page of up to 200 matches) against filtering the text in Node. Medians
// of --runs. Needs Docker (the job) and /usr/bin/chromium.
// Usage: node dist/bench/webui-log.js [--lines 50000,1000000] [--runs 3] [--json]
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { execFile } from 'node:child_process'
import { chromium, type Page } from 'playwright-core'
import { createApiClient } from '../client/api-client.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'
import { FLOE_BIN, floeJson, startBenchDaemon, timed } from './helpers.js'

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '50000,1000000' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false }
  }
})
const sizes = values.lines.split(',').map(Number)
const runs = Number(values.runs)
if (sizes.some(n => !Number.isSafeInteger(n) || n < 1)) throw new Error('--lines must be whole numbers ≥ 1, comma-separated')
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a whole number ≥ 1')
const exec = promisify(execFile)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const MiB = 1024 * 1024

/** 60 frames scrolling `selector` from top to bottom: median and worst frame time (ms). */
async function scrollFrames (page: Page, selector: string): Promise<{ median: number, worst: number }> {
  return await page.evaluate(`new Promise(resolve => {
    const box = document.querySelector(${JSON.stringify(selector)})
    const times = []
    let last = performance.now()
    let i = 0
    const step = () => {
      const now = performance.now()
      if (i > 0) times.push(now - last)
      last = now
      if (i++ === 60) { times.sort((a, b) => a - b); resolve({ median: times[30], worst: times[times.length - 1] }); return }
      box.scrollTop = (box.scrollHeight - box.clientHeight) * i / 60
      requestAnimationFrame(step)
    }
    box.scrollTop = 0
    requestAnimationFrame(step)
  })`)
}

async function heapMiB (page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  await cdp.detach()
  return usedSize / MiB
}

const daemon = await startBenchDaemon(undefined, ['--provider'])
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] })
const code = await mkdtemp(join(tmpdir(), 'floe-bench-code-'))
const results: Array<Record<string, number>> = []
try {
  await writeFile(join(code, 'README'), 'bench\n')
  const paths = homePaths(daemon.home)
  const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
  const client = createApiClient({ url: endpoint.url, token: readFileSync(paths.apiToken, 'utf8').trim() })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  await page.goto((await floeJson(['ui', '--no-open', '--home', daemon.home])).url)
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor()

  for (const lines of sizes) {
    const started = performance.now()
    const { stdout } = await exec(process.execPath, [FLOE_BIN, 'run', '--json', '--path', code, '--home', daemon.home, '--timeout', '2h', '--', 'sh', '-c', `seq 1 ${lines} | sed 's/^/row /'`])
    const { ref } = JSON.parse(stdout) as { ref: string }
    let job = await client.call('jobShow', { ref })
    while (!['success', 'failed', 'stopped', 'lost', 'timeout'].includes(job.state)) { await sleep(500); job = await client.call('jobShow', { ref }) }
    if (job.state !== 'success') throw new Error(`the ${lines}-line job ended ${job.state}: ${job.message}`)
    const jobSeconds = (performance.now() - started) / 1000
    const needle = `row ${Math.floor(lines * 0.42)}`
    const text = await (await fetch(`${endpoint.url}/api/v1/jobs/log.txt?ref=${encodeURIComponent(ref)}`, { headers: { authorization: `Bearer ${readFileSync(paths.apiToken, 'utf8').trim()}` } })).text()

    const samples: Record<string, number[]> = {}
    const add = (key: string, value: number): void => { (samples[key] ??= []).push(value) }
    for (let run = 0; run < runs; run++) {
      // (a) floe's page
      await page.goto('about:blank')
      const floeMs = await timed(async () => {
        await page.goto(`${endpoint.url}/jobs/${encodeURIComponent(ref)}`)
        await page.locator(`[data-testid="log"] .line:text-is("row ${lines}")`).waitFor({ timeout: 600_000 })
      })
      add('floeMs', floeMs)
      add('floeHeapMiB', await heapMiB(page))
      add('floeRowsInPage', await page.locator('[data-testid="log"] .line').count())
      const floeScroll = await scrollFrames(page, '[data-testid="log"]')
      add('floeFrameMs', floeScroll.median)
      add('floeWorstFrameMs', floeScroll.worst)

      // (b) the baseline: the whole log as text in one <pre>
      await page.goto(`${endpoint.url}/node`)
      await page.getByRole('heading', { name: 'Node', level: 1 }).waitFor()
      const plainMs = await page.evaluate(`(async () => {
        const t0 = performance.now()
        const text = await (await fetch('/api/v1/jobs/log.txt?ref=' + encodeURIComponent(${JSON.stringify(ref)}))).text()
        const pre = document.createElement('pre')
        pre.id = 'plain'
        pre.style.cssText = 'height: 420px; overflow: auto'
        pre.textContent = text
        document.body.replaceChildren(pre)
        void pre.scrollHeight
        await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)))
        return performance.now() - t0
      })()`) as number
      add('plainMs', plainMs)
      add('plainHeapMiB', await heapMiB(page))
      const plainScroll = await scrollFrames(page, '#plain')
      add('plainFrameMs', plainScroll.median)
      add('plainWorstFrameMs', plainScroll.worst)

      // (d) a search over the whole log
      add('searchMs', await timed(async () => await client.call('jobLogSearch', { ref, query: needle, limit: 200 })))
      add('filterMs', await timed(async () => text.split('\n').filter(line => line.toLowerCase().includes(needle))))
    }
    results.push({ lines, logLines: job.logLines, jobSeconds, ...Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)])) })
  }
} finally {
  await browser.close()
  await daemon.stop()
  await rm(code, { recursive: true, force: true })
}

if (values.json) {
  console.log(JSON.stringify(results, null, 2))
} else {
  const f = (n: number | undefined, digits = 0): string => n == null ? '–' : n.toFixed(digits)
  console.log('lines | floe page → last line | plain <pre> | ratio | heap floe / plain (MiB) | frame floe / plain (median, worst ms) | search daemon / filter in node (ms)')
  for (const r of results) {
    console.log(`${r.lines} | ${f(r.floeMs)} ms (${f(r.floeRowsInPage)} rows in the page) | ${f(r.plainMs)} ms | ${f((r.floeMs ?? 0) / (r.plainMs ?? 1), 2)}× | ${f(r.floeHeapMiB, 1)} / ${f(r.plainHeapMiB, 1)} | ${f(r.floeFrameMs, 1)}, ${f(r.floeWorstFrameMs, 1)} / ${f(r.plainFrameMs, 1)}, ${f(r.plainWorstFrameMs, 1)} | ${f(r.searchMs)} / ${f(r.filterMs)}`)
  }
}
