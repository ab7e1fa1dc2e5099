import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { connectToProvider, floe, floeJson, resources, type RunningDaemon } from '../helpers/floe.js'

/** Screenshots this file keeps (git-ignored). */
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

const r = resources()
let browser: Browser
let context: BrowserContext
let page: Page
/** the client (the browser's daemon) and its provider */
let d: RunningDaemon
let p: RunningDaemon
const errors: string[] = []
/** the three jobs with metrics, by their loss factor */
let jobs: any[] = []

const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(ARTIFACTS, `features-${name}.png`), fullPage: true }) }
const cli = async <T = any>(...args: string[]): Promise<T> => await floeJson<T>([...args, '--home', d.home])
/** `floe run … -- COMMAND` with --json: the job as it stands when the command returns */
const runJob = async (args: string[], command: string[]): Promise<any> => {
  const run = await floe(['run', '--home', d.home, '--json', ...args, '--', ...command], { timeoutMs: 90_000 })
  if (run.code !== 0) throw new Error(`floe run exited ${run.code}: ${run.stderr} ${JSON.stringify((({ state, exitCode, reason, attempts, logLines }) => ({ state, exitCode, reason, attempts, logLines }))(JSON.parse(run.stdout || "{}")))}`)
  return JSON.parse(run.stdout)
}
/** axe-core's WCAG 2 A findings on the page as it stands (contrast, an AA rule of the shared styles, is ui-fix's) */
const axeViolations = async (): Promise<string[]> => {
  await page.addScriptTag({ path: resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js') })
  const result = await page.evaluate(async () => await (globalThis as any).axe.run((globalThis as any).document, { runOnly: { type: 'tag', values: ['wcag2a'] } }))
  return (result.violations as Array<{ id: string, nodes: Array<{ target: string[] }> }>).map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)
}
/** the job whose page the browser went to (after a launch) */
const openedJob = async (): Promise<string> => {
  await page.waitForURL(/\/jobs\//)
  const ref = decodeURIComponent(new URL(page.url()).pathname.slice('/jobs/'.length))
  await page.getByRole('heading', { name: new RegExp(`^Job ${ref}`) }).waitFor()
  return ref
}
const go = async (path: string): Promise<void> => { await page.goto(`${d.endpoint.url}${path}`) }

/** A job printing loss and acc for steps 1–3 (loss = factor × (4 − step)), then writing its output files. */
const trainScript = (factor: number): string =>
  `for s in 1 2 3; do echo "{\\"metric\\": \\"loss\\", \\"value\\": $(( ${factor} * (4 - s) )), \\"step\\": $s}"; echo "{\\"metric\\": \\"acc\\", \\"value\\": $(( 10 * s + ${factor} )), \\"step\\": $s}"; done; ` +
  `printf 'epoch,loss\\n1,"3, or so"\\n2,2\\n' > /output/result.csv; echo '{"loss":${factor},"ok":true}' > /output/result.json; cp /code/plot.png /output/plot.png`

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  ;[d, p, browser] = await Promise.all([r.start(), r.start('--provider'), launchChromium()])
  const code = await r.codeFolder({ 'readme.txt': 'the code snapshot\n' })
  await mkdir(join(code, 'src'))
  await writeFile(join(code, 'src', 'model.txt'), 'model code in a subfolder\n')
  await writeFile(join(code, 'plot.png'), PNG)
  const data = await r.codeFolder({})
  await Promise.all([
    (async () => {
      await floeJson(['provider', 'set', 'max-jobs', '4', '--home', p.home])
      await connectToProvider(d, p)
    })(),
    (async () => {
      await writeFile(join(data, 'data.csv'), 'version one\n')
      await cli('data', 'upload', data, '--name', 'mnist')
      await writeFile(join(data, 'data.csv'), 'version two\n')
      await cli('data', 'upload', data, '--name', 'mnist')
    })(),
    // the project the three jobs go to, made first so that they can start at once
    cli('init', 'webfeat', '--path', await r.codeFolder({}))
  ])
  const train = async (factor: number): Promise<any> => {
    const args = ['--path', code, '--project', 'webfeat', '--follow', '-m', `factor ${factor}`]
    return await runJob(args, ['sh', '-c', trainScript(factor)])
  }
  jobs = await Promise.all([1, 2, 3].map(train))
  expect(jobs.map(j => j.state)).toEqual(['success', 'success', 'success'])
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } })
  page = await context.newPage()
  page.on('console', msg => { if (msg.type() === 'error') errors.push(`${page.url()}: ${msg.text()}`) })
  page.on('pageerror', err => { errors.push(`${page.url()}: ${err.message}`) })
  await page.goto((await cli('ui', '--no-open')).url)
  await page.getByRole('heading', { name: 'Projects' }).waitFor()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await r.cleanup()
})

describe('the web UI for researchers', () => {
  it('compares three jobs: a series per job on each metric chart, a sortable column per metric, smoothing and log scale', async () => {
    await go(`/projects/${encodeURIComponent(jobs[0].projectId)}`)
    for (const job of jobs) await page.getByLabel(`compare ${job.ref as string}`).check()
    await page.getByRole('link', { name: 'Compare 3 jobs' }).click()
    await page.getByRole('heading', { name: 'Compare runs' }).waitFor()
    const loss = page.locator('[data-metric="loss"]')
    await expect.poll(async () => await loss.getAttribute('data-series')).toBe('3')
    expect(await page.locator('[data-metric="acc"]').getAttribute('data-series')).toBe('3')
    expect(await loss.getAttribute('data-last')).toBe(jobs.map((j, i) => `${j.ref as string} ${i + 1}`).join(', '))
    // each chart draws its three lines (uPlot's canvas), and the legend names each job
    expect(await page.locator('.compare-chart .u-legend').first().innerText()).toContain(jobs[2].ref)

    // the loss column sorts: descending puts factor 3 first
    const table = page.getByRole('table', { name: 'compared jobs' })
    await table.getByRole('button', { name: /^loss/ }).click()
    await table.getByRole('button', { name: /^loss/ }).click()
    expect(await table.locator('tbody tr').first().locator('td').first().innerText()).toBe(jobs[2].ref)
    // the command as displayCommand shows it: the one-string form without its sh -c wrapper
    expect(await table.locator('tbody tr').first().innerText()).toContain(`\t${trainScript(3).slice(0, 20)}`)

    // smoothing (EMA) changes the plotted values; the log scale is switched on
    // keyboard: 50 steps of 0.01
    for (let i = 0; i < 50; i++) await page.getByLabel('Smoothing').press('ArrowRight')
    await expect.poll(async () => await loss.getAttribute('data-last')).toBe(jobs.map((j, i) => `${j.ref as string} ${(i + 1) * 1.75}`).join(', '))
    await page.getByLabel('Log scale').check()
    await expect.poll(async () => await page.locator('[data-metric="loss"]').getAttribute('data-log')).toBe('true')
    // the status filter leaves no job when none is running
    await page.getByLabel('Status').selectOption('running')
    await expect.poll(async () => await page.locator('[data-metric="loss"]').getAttribute('data-series')).toBe('0')
    await page.getByLabel('Status').selectOption('')
    await shot('compare')
    expect(await axeViolations()).toEqual([])
  })

  it('previews a CSV, a JSON and a PNG output, browses the code snapshot and downloads a subfolder', async () => {
    await go(`/jobs/${encodeURIComponent(jobs[0].ref)}`)
    const output = page.getByRole('region', { name: /files of .*-output/ })
    await output.getByRole('button', { name: 'preview result.csv' }).click()
    const csv = page.getByTestId('preview').getByRole('table')
    await expect.poll(async () => await csv.locator('th').allInnerTexts()).toEqual(['epoch', 'loss'])
    expect(await csv.locator('tbody tr').first().locator('td').allInnerTexts()).toEqual(['1', '3, or so'])
    await output.getByRole('button', { name: 'preview result.json' }).click()
    await expect.poll(async () => await page.getByTestId('preview').locator('pre').innerText()).toBe('{\n  "loss": 1,\n  "ok": true\n}')
    await output.getByRole('button', { name: 'preview plot.png' }).click()
    const img = page.getByTestId('preview').getByRole('img', { name: 'plot.png' })
    await expect.poll(async () => await img.evaluate(el => (el as unknown as { complete: boolean, naturalWidth: number }).complete ? (el as unknown as { naturalWidth: number }).naturalWidth : 0)).toBe(1)
    await shot('output-preview')
    expect(await axeViolations()).toEqual([])

    await page.getByRole('button', { name: 'Browse the code' }).click()
    const code = page.getByRole('region', { name: /files of .*-code/ })
    await code.getByRole('button', { name: 'preview readme.txt' }).click()
    await expect.poll(async () => await page.getByTestId('preview').locator('pre').innerText()).toBe('the code snapshot\n')
    await code.getByRole('button', { name: 'src/' }).click()
    const [tar] = await Promise.all([page.waitForEvent('download'), code.getByRole('link', { name: 'Download this folder .tar' }).click()])
    const bytes = await readFile(await tar.path())
    expect(bytes.includes(Buffer.from('model code in a subfolder\n'))).toBe(true)
    expect(bytes.includes(Buffer.from('the code snapshot'))).toBe(false)
    await shot('code-browser')
  })

  it('reruns with changes from a form filled from the job: same code snapshot, the new command as shell words', async () => {
    await go(`/jobs/${encodeURIComponent(jobs[1].ref)}`)
    await page.getByRole('link', { name: 'Rerun with changes…' }).click()
    await page.getByRole('heading', { name: `Rerun ${jobs[1].ref as string} with changes` }).waitFor()
    await expect.poll(async () => await page.getByLabel('Command', { exact: true }).inputValue()).toBe(trainScript(2))
    expect(await page.getByLabel('Run through sh -c').isChecked()).toBe(true)
    expect(await page.getByLabel('Message').inputValue()).toBe('factor 2')
    await page.getByLabel('Run through sh -c').uncheck()
    await page.getByLabel('Command', { exact: true }).fill(`echo 'two words' changed`)
    await expect.poll(async () => await page.getByTestId('command-words').innerText()).toBe('["echo","two words","changed"]')
    await page.getByLabel('Message').fill('changed')
    await shot('rerun-with-changes')
    expect(await axeViolations()).toEqual([])
    await page.getByRole('button', { name: 'Rerun', exact: true }).click()
    const ref = await openedJob()
    await expect.poll(async () => (await cli('status', ref)).state, { timeout: 30_000 }).toBe('success')
    const rerun = await cli('status', ref)
    expect(rerun).toMatchObject({ message: 'changed', spec: { command: ['echo', 'two words', 'changed'], code: jobs[1].spec.code } })
  })

  it('launches a job with an older dataset version picked from the list, on the provider chosen with "Launch here"', async () => {
    await go('/market')
    await page.getByRole('link', { name: 'Launch here' }).click()
    await page.getByRole('heading', { name: 'Launch a job' }).waitFor()
    expect(await page.getByLabel('Provider').inputValue()).toBe(p.endpoint.peerId)
    await page.getByRole('button', { name: 'Add a mount' }).click()
    await page.getByLabel('source of mount 1').selectOption('mnist:1')
    await page.getByLabel('Retries').fill('1')
    await page.getByLabel('Command', { exact: true }).fill('cat /data/data.csv')
    await page.getByRole('button', { name: 'Launch' }).click()
    const ref = await openedJob()
    await expect.poll(async () => await page.getByTestId('log').innerText(), { timeout: 30_000 }).toContain('version one')
    const job = await cli('status', ref)
    expect(job).toMatchObject({ inputs: [{ ref: 'mnist:1', mount: '/data' }], requestedProvider: p.endpoint.peerId, retries: 1, spec: { command: ['cat', '/data/data.csv'] } })
  })

  it('shows spend: a running job costs so far on the running and billing pages; totals match floe billing', async () => {
    const long = await runJob(['--path', await r.codeFolder()], ['sleep', '60'])
    try {
      await go('/running')
      const row = page.getByRole('row', { name: new RegExp(long.ref as string) })
      await expect.poll(async () => await row.innerText(), { timeout: 20_000 }).toContain('running')
      // 0.06 credits an hour shows as more than 0 after a few seconds
      await expect.poll(async () => Number(await page.getByTestId('running-cost').innerText()), { timeout: 20_000 }).toBeGreaterThan(0)
      await shot('running')
      expect(await axeViolations()).toEqual([])
      await go('/billing')
      await expect.poll(async () => Number(await page.getByTestId('live-spend').innerText()), { timeout: 20_000 }).toBeGreaterThan(0)
      const billing = await cli('billing')
      expect(billing.spent).toBeGreaterThan(0)
      const spent = Number(await page.locator('[data-spent]').getAttribute('data-spent'))
      // (the running job adds to both as it runs)
      expect(Math.abs(spent - billing.spent)).toBeLessThan(0.01)
      expect(billing.byProject.length).toBeGreaterThan(0)
      const byProject = await page.getByRole('table', { name: 'spend by project' }).innerText()
      for (const p of billing.byProject) expect(byProject).toContain(p.project)
      await shot('billing')
    } finally {
      await floe(['stop', long.ref, '--home', d.home])
    }
  })

  it("marks the provider's own offer and edits its price from its market page, with the CLI's checks", async () => {
    // the provider's own web UI (another origin: its own session)
    await page.goto((await floeJson(['ui', '--no-open', '--home', p.home])).url)
    await page.goto(`${p.endpoint.url}/market`)
    await page.getByTestId('own-offer').waitFor()
    expect(await axeViolations()).toEqual([])
    const pcli = async (...args: string[]): Promise<any> => await floeJson([...args, '--home', p.home])
    await page.getByLabel('Price per CPU hour').fill('0.07')
    await page.getByRole('button', { name: 'Save' }).click()
    await expect.poll(async () => (await pcli('provider', 'show')).settings.prices.perCpuHour, { timeout: 15_000 }).toBe(0.07)
    // (the refused setting below logs the browser's own "failed to load resource" line)
    expect(errors).toEqual([])
    await page.getByLabel('Jobs at once').fill('lots')
    await page.getByRole('button', { name: 'Save' }).click()
    const alert = page.getByRole('alert')
    await expect.poll(async () => await alert.innerText()).toMatch(/Jobs at once: /)
    expect((await pcli('provider', 'show')).settings.maxConcurrentJobs).toBe(4)
    await shot('market')
  })
})
