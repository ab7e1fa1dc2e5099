import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

/** Screenshots kept as test artefacts (git-ignored). */
const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/webui-fixes')
const r = resources()
let browser: Browser
let page: Page
let d: RunningDaemon
let code: string
const errors: string[] = []
/** the jobs made for the checks, by what they hit */
const jobs = { failed: '', big: '', metrics: '', workspace: '' }
const LOG_LINES = 20_000

const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) }
const run = async (command: string[]): Promise<string> => {
  const result = await floe(['run', '--json', '--path', code, '--home', d.home, '--', ...command])
  if (result.code !== 0) throw new Error(`floe run failed: ${result.stderr}`)
  return (JSON.parse(result.stdout) as { ref: string }).ref
}
const waitEnded = async (ref: string): Promise<void> => {
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise(resolve => setTimeout(resolve, 300))) {
    const { state } = await floeJson<{ state: string }>(['status', ref, '--json', '--home', d.home])
    if (['success', 'failed', 'stopped', 'lost', 'timeout'].includes(state)) return
  }
  throw new Error(`job ${ref} did not end within a minute`)
}
const openJob = async (ref: string): Promise<void> => {
  await page.goto(`${d.endpoint.url}/jobs/${encodeURIComponent(ref)}`)
  await page.getByRole('heading', { level: 1, name: new RegExp(ref.replace(/[/.]/g, '\\$&')) }).waitFor()
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true })
  browser = await launchChromium()
  d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  code = r.folder(await mkdtemp(join(tmpdir(), 'floe-code-')))
  await writeFile(join(code, 'train.sh'), 'echo hi\n')
  // two versions of one dataset
  for (const version of ['one', 'two']) {
    const folder = r.folder(await mkdtemp(join(tmpdir(), 'floe-mnist-')))
    await writeFile(join(folder, `version-${version}.txt`), `${version}\n`)
    await floeJson(['data', 'upload', folder, '--name', 'mnist', '--home', d.home])
  }
  // a failing job with quoting in its command and 60 malformed metric lines; a big log
  jobs.failed = await run(['sh', '-c', 'i=0; while [ $i -lt 60 ]; do echo "{\\"metric\\": \\"loss\\", \\"value\\": \\"high\\"}"; i=$((i+1)); done; echo "it\'s done"; exit 1'])
  jobs.big = await run(['sh', '-c', `seq 1 ${LOG_LINES} | sed 's/^/row /'; echo needle-at-the-end`])
  jobs.metrics = await run(['sh', '-c', 'for s in 1 2 3 4; do echo "{\\"metric\\": \\"loss\\", \\"value\\": $((5 - s)).5, \\"step\\": $s}"; done'])
  await Promise.all([jobs.failed, jobs.big, jobs.metrics].map(waitEnded))
  // a workspace: its run is a job of the project, but no job to list or rerun
  jobs.workspace = (await floeJson<{ ref: string }>(['workspace', 'start', 'scratch', '--path', code, '--home', d.home])).ref
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } })
  page = await context.newPage()
  page.on('console', msg => { if (msg.type() === 'error') errors.push(`${page.url()}: ${msg.text()}`) })
  page.on('pageerror', err => { errors.push(`${page.url()}: ${err.message}`) })
  const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
  await page.goto(url)
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await r.cleanup()
})

describe('the web UI, as a researcher found it broken', () => {
  it('the first page loads at most 150 KB of gzipped script, compressed and cached, without xterm', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    try {
      const first = await fresh.newPage()
      const scripts: Array<{ url: string, encoding: string | undefined, cache: string | undefined }> = []
      first.on('response', res => { if (res.request().resourceType() === 'script') scripts.push({ url: res.url(), encoding: res.headers()['content-encoding'], cache: res.headers()['cache-control'] }) })
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await first.goto(url)
      await first.getByRole('heading', { name: 'Projects', level: 1 }).waitFor()
      await first.locator('table.data tbody tr').first().waitFor()
      expect(scripts.length).toBeGreaterThan(1) // the app, and the page's own chunk
      let gzipped = 0
      for (const script of scripts) {
        expect(script.encoding, script.url).toBe('br')
        expect(script.cache, script.url).toBe('public, max-age=31536000, immutable')
        const res = await fetch(script.url, { headers: { 'accept-encoding': 'gzip' } })
        expect(res.headers.get('content-encoding')).toBe('gzip')
        gzipped += Number(res.headers.get('content-length'))
        expect(await res.text(), script.url).not.toContain('xterm-helper-textarea')
      }
      expect(gzipped).toBeLessThanOrEqual(150 * 1024)
      console.log(`first page: ${scripts.length} scripts, ${(gzipped / 1024).toFixed(1)} KB gzipped`)
    } finally {
      await fresh.close()
    }
  })

  it('tables break no word in two at 1280 px (states, env names, headers, buttons); CIDs still wrap', async () => {
    const project = jobs.failed.split('/').slice(0, -1).join('/')
    await page.goto(`${d.endpoint.url}/projects/${encodeURIComponent(project)}`)
    await page.locator('table.data tbody tr').nth(2).waitFor()
    await shot('project-1280')
    // each single word in a cell or header lies on one line: a Range over it has one box
    const broken = await page.evaluate(`(() => {
      const found = []
      for (const cell of document.querySelectorAll('table.data th, table.data td')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT)
        for (let node = walker.nextNode(); node != null; node = walker.nextNode()) {
          const text = node.textContent ?? ''
          for (const match of text.matchAll(/\\S+/g)) {
            if (match[0].length > 24) continue // ids and CIDs may wrap
            const range = document.createRange()
            range.setStart(node, match.index)
            range.setEnd(node, match.index + match[0].length)
            const lines = new Set([...range.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.top)))
            if (lines.size > 1) found.push(match[0])
          }
        }
      }
      return found
    })()`)
    expect(broken).toEqual([])
    expect(await page.locator('table.data td .badge').allInnerTexts()).toEqual(expect.arrayContaining(['failed', 'success']))

    // a dataset's CID in its table wraps inside the page instead of widening it
    await page.goto(`${d.endpoint.url}/datasets`)
    await page.locator('table.data tbody tr').nth(1).waitFor()
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as number
    expect(overflow).toBeLessThanOrEqual(0)
  })

  it('a dataset version opens as clicked: mnist:1 is version 1, not the latest', async () => {
    await page.goto(`${d.endpoint.url}/datasets`)
    await page.getByRole('button', { name: 'mnist:1' }).click()
    await page.getByRole('heading', { name: 'mnist:1', level: 2 }).waitFor()
    await page.getByRole('link', { name: /version-one\.txt/ }).waitFor()
    expect(await page.locator('main').innerText()).not.toContain('version-two.txt')
    expect(await page.title()).toBe('Dataset mnist:1 — floe')
    await page.getByRole('button', { name: 'mnist:2' }).click()
    await page.getByRole('link', { name: /version-two\.txt/ }).waitFor()
    await shot('dataset-version')
  })

  it('a failed job: its command quoted as typed, its exit code once, no Pause on an ended log, its dropped metric lines counted', async () => {
    await openJob(jobs.failed)
    expect(await page.title()).toBe(`Job ${jobs.failed} — floe`)
    const command = await page.getByTestId('command').innerText()
    expect(command).toBe('sh -c \'i=0; while [ $i -lt 60 ]; do echo "{\\"metric\\": \\"loss\\", \\"value\\": \\"high\\"}"; i=$((i+1)); done; echo "it\'\\\'\'s done"; exit 1\'')
    const exit = await page.getByTestId('exit').innerText()
    expect(exit.startsWith('1')).toBe(true)
    expect(exit).not.toMatch(/exit code 1/i)
    // 61 lines of its own, and the provider's system lines
    const { logLines } = await floeJson<{ logLines: number }>(['status', jobs.failed, '--home', d.home])
    expect(logLines).toBeGreaterThanOrEqual(61)
    await expect.poll(async () => await page.getByTestId('log-count').innerText()).toBe(`${logLines} lines`)
    expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(0)
    expect(await page.getByTestId('no-metrics').innerText()).toMatch(/^This job reported no metrics\./)
    expect(await page.getByTestId('metrics-dropped').innerText()).toMatch(/^60 metric lines were dropped/)
    await shot('job-failed')
  })

  it(`a ${LOG_LINES}-line log: a few rows in the page, a search on the daemon over all of it, and the whole log to download`, async () => {
    await openJob(jobs.big)
    // the job's lines and the provider's own (system) lines
    const total = (await floeJson<{ logLines: number }>(['status', jobs.big, '--home', d.home])).logLines
    expect(total).toBeGreaterThan(LOG_LINES)
    await expect.poll(async () => await page.getByTestId('log').getAttribute('data-lines'), { timeout: 20_000 }).toBe(String(total))
    expect(await page.getByTestId('log-count').innerText()).toBe(`${total.toLocaleString('en-US')} lines`)
    // virtualised: the rows in view, not twenty thousand
    expect(await page.locator('[data-testid="log"] .line').count()).toBeLessThan(100)
    expect(await page.getByTestId('log').innerText()).toContain('needle-at-the-end')

    const searches: string[] = []
    page.on('request', req => { if (req.url().includes('/jobs/logs/search')) searches.push(req.postData() ?? '') })
    await page.getByLabel('Search the whole log').fill('ROW 1234')
    await expect.poll(async () => await page.getByTestId('search-summary').innerText(), { timeout: 10_000 }).toBe('11 matching lines in the whole log') // 1234 and 12340–12349
    expect(searches.length).toBeGreaterThan(0)
    expect(await page.locator('[data-testid="log"] .line').first().innerText()).toBe('row 1234')
    await shot('log-search')
    await page.getByLabel('Search the whole log').fill('')

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download full log' }).click()])
    expect(download.suggestedFilename()).toBe(`${jobs.big.replace(/[^A-Za-z0-9._-]+/g, '-')}.log`)
    const text = await readFile(await download.path(), 'utf8')
    const lines = text.split('\n')
    expect(lines.length).toBe(total + 1)
    expect(lines.at(-1)).toBe('')
    const rows = lines.filter(l => l.startsWith('row '))
    expect(rows.length).toBe(LOG_LINES)
    expect(rows[0]).toBe('row 1')
    expect(rows.at(-1)).toBe(`row ${LOG_LINES}`)
    expect(lines.indexOf('needle-at-the-end')).toBeGreaterThan(lines.indexOf(`row ${LOG_LINES}`))
  })

  it('charts: a short label, not every point; at phone width the legend stays a table and sorting stays as a select', async () => {
    await openJob(jobs.metrics)
    const chart = page.locator('[data-metric="loss"]')
    await expect.poll(async () => await chart.getAttribute('data-points')).toBe('4')
    expect(await chart.getAttribute('aria-label')).toBe('loss by step: 4 points from step 1 to 4; first 4.5, latest 1.5, lowest 1.5, highest 4.5')

    await page.setViewportSize({ width: 390, height: 844 })
    await shot('job-phone')
    const legend = await page.evaluate(`(() => { const row = document.querySelector('.u-legend tr'); return { display: getComputedStyle(row).display, before: getComputedStyle(row.querySelector('td'), '::before').content } })()`) as { display: string, before: string }
    expect(legend.display).not.toBe('block')
    expect(legend.before).toBe('none')

    const project = jobs.failed.split('/').slice(0, -1).join('/')
    await page.goto(`${d.endpoint.url}/projects/${encodeURIComponent(project)}`)
    await page.locator('table.data tbody tr').nth(2).waitFor()
    const numbers = async (): Promise<string[]> => (await page.locator('table.data tbody td[data-label="Job"]').allInnerTexts()).map(t => t.split('/').pop() ?? '')
    expect(await numbers()).toEqual(['3', '2', '1'])
    const sort = page.getByLabel('Sort by')
    expect(await sort.isVisible()).toBe(true)
    await sort.selectOption({ label: 'Job, ascending' })
    expect(await numbers()).toEqual(['1', '2', '3'])
    await shot('project-phone')
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  it('a workspace run is not in the job table, and its page offers no Rerun and no internal command', async () => {
    const project = jobs.failed.split('/').slice(0, -1).join('/')
    await page.goto(`${d.endpoint.url}/projects/${encodeURIComponent(project)}`)
    await page.getByText('1 workspace run is not listed here').waitFor()
    expect(await page.locator('table.data tbody tr').count()).toBe(3)
    expect(await page.locator('table.data').innerText()).not.toContain(jobs.workspace)
    await openJob(jobs.workspace)
    expect(await page.getByTestId('command').innerText()).toBe('workspace (kept running for terminals and notebooks)')
    expect(await page.locator('main').innerText()).not.toContain('trap')
    expect(await page.getByRole('button', { name: /^Rerun/ }).count()).toBe(0)
    await floeJson(['workspace', 'stop', 'scratch', '--home', d.home])
  })

  it('a price limit reads as set (0.001, not 0.00); errors without class names or CLI commands', async () => {
    const dry = await floe(['run', '--dry-run', '--max-price', '0.001', '--path', code, '--home', d.home, '--', 'true'])
    expect(dry.stdout + dry.stderr).toContain('above the 0.001/h limit')

    await page.goto(`${d.endpoint.url}/jobs/${encodeURIComponent('nosuchproject/9')}`)
    const alert = page.getByRole('alert')
    await alert.waitFor()
    const text = await alert.innerText()
    expect(text).not.toMatch(/[A-Z][A-Za-z]+Error:|floe [a-z]/)
    expect(text).toMatch(/^[A-Z]/)
  })

  it('one banner, and the data kept, when the daemon goes away', async () => {
    // the project page asks every few seconds: the next ask finds no daemon
    const project = jobs.failed.split('/').slice(0, -1).join('/')
    await page.goto(`${d.endpoint.url}/projects/${encodeURIComponent(project)}`)
    await page.locator('table.data tbody tr').nth(2).waitFor()
    await d.stop()
    const banner = page.locator('.banner')
    await banner.waitFor({ timeout: 15_000 })
    expect(await banner.innerText()).toMatch(/is not answering/)
    // the job page polls on: still one alert, the details still shown
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await page.getByRole('alert').count()).toBe(1)
    expect(await page.locator('table.data tbody tr').count()).toBe(3)
    await shot('daemon-gone')
    expect(errors.filter(e => !/Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch/.test(e))).toEqual([])
  })
})
