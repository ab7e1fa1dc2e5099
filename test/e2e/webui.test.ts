import { readFile } from 'node:fs/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, screenshot } from '../helpers/browser.js'
import { floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

const r = resources()
let browser: Browser
beforeAll(async () => { browser = await launchChromium() })
afterAll(async () => { await browser?.close() })
afterEach(async () => { await r.cleanup() })

/** A page that records every console error and uncaught exception. */
async function watchedPage (): Promise<{ page: Page, errors: string[], close: () => Promise<void> }> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', msg => { if (msg.type() === 'error') errors.push(`${page.url()}: ${msg.text()}`) })
  page.on('pageerror', err => { errors.push(`${page.url()}: ${err.message}`) })
  return { page, errors, close: async () => { await context.close() } }
}

const shot = screenshot

describe('the web UI', () => {
  it('serves no data without the sign-in link; through it, a job launched from the form streams its log, ends in success, charts its metric and serves its output', async () => {
    const d: RunningDaemon = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const { page, errors, close } = await watchedPage()
    try {
      // without the token: the sign-in page, and the API refuses
      await page.goto(d.endpoint.url)
      await expect.poll(async () => await page.locator('main').innerText()).toContain('floe ui')
      await shot(page, 'sign-in')
      const anonymous = await fetch(`${d.endpoint.url}/api/v1/projects`)
      expect(anonymous.status).toBe(401)
      expect(await anonymous.text()).not.toContain('"projects"')

      // the one-time link signs in, once
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(url)
      await page.getByRole('heading', { name: 'Projects' }).waitFor()
      const cookies = await page.context().cookies()
      expect(cookies.find(c => c.name === 'floe_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
      const again = await fetch(url, { redirect: 'manual' })
      expect(again.headers.get('location')).toBe('/?signin=expired')
      await shot(page, 'projects')

      // create a project, then launch a job into it from the form
      await page.getByLabel('New project').fill('webtest')
      await page.getByRole('button', { name: 'Create' }).click()
      await page.getByRole('heading', { name: /\/webtest$/ }).waitFor()
      await shot(page, 'project')
      await page.getByRole('link', { name: 'Launch a job' }).click()
      await page.getByRole('heading', { name: 'Launch a job' }).waitFor()
      await page.getByLabel('Command').fill('for s in 1 2 3; do echo "{\\"metric\\": \\"loss\\", \\"value\\": $(( 4 - s )).5, \\"step\\": $s}"; sleep 0.6; done; echo hello from the job > /output/result.txt; echo finished')
      await page.getByLabel('Run through sh -c').check()
      await page.getByLabel('Message').fill('from the browser')
      await page.getByRole('button', { name: 'Dry run' }).click()
      await page.getByRole('heading', { name: 'Dry run' }).waitFor()
      await shot(page, 'launch')
      await page.getByRole('button', { name: 'Launch' }).click()
      await page.getByRole('heading', { name: /^Job .*\/webtest\/1/ }).waitFor()

      // log lines arrive while it runs
      const log = page.getByTestId('log')
      await expect.poll(async () => await log.innerText(), { timeout: 20_000 }).toContain('"step": 1')
      const statusWhileLogging = await page.locator('h1 .badge').innerText()
      expect(statusWhileLogging).not.toBe('success')
      await expect.poll(async () => await page.locator('h1 .badge').innerText(), { timeout: 30_000 }).toBe('success')
      // the last line is pushed by the log stream, the status polled: the line follows within moments
      await expect.poll(async () => await log.innerText(), { timeout: 5_000 }).toContain('finished')

      // the chart has the job's three points
      const chart = page.locator('[data-metric="loss"]')
      await expect.poll(async () => await chart.getAttribute('data-points')).toBe('3')
      expect(await chart.getAttribute('aria-label')).toBe('loss by step: 3 points from step 1 to 3; first 3.5, latest 1.5, lowest 1.5, highest 3.5')
      await page.locator('.files').waitFor()
      await shot(page, 'job')

      // the output browser downloads the file the job wrote, bytes equal
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /result\.txt/ }).click()])
      expect(await readFile(await download.path())).toEqual(Buffer.from('hello from the job\n'))
      const [tar] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download .tar' }).click()])
      expect((await readFile(await tar.path())).includes(Buffer.from('hello from the job\n'))).toBe(true)

      // the other pages render, with their empty states or data
      for (const [name, heading] of [['datasets', 'Datasets'], ['market', 'Market'], ['node', 'Node']] as const) {
        await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: heading }).click()
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor()
        await page.waitForLoadState('networkidle')
        await shot(page, name)
      }
      expect(await page.locator('main').innerText()).toContain(d.endpoint.peerId)
      // the node page says whether the node is reachable (on loopback no public peer can tell)
      expect(await page.getByTestId('reachability').innerText()).toBe('unknown — no public peer has checked yet')

      // a phone-width view keeps the jobs table readable
      await page.setViewportSize({ width: 390, height: 844 })
      await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Projects' }).click()
      await page.getByRole('link', { name: /webtest$/ }).click()
      await page.getByRole('link', { name: /\/webtest\/1$/ }).waitFor()
      await shot(page, 'project-phone')
      expect(errors).toEqual([])
    } finally {
      await close()
    }
  })

  it('uploads a dataset from the browser with progress, and browses it', async () => {
    const d: RunningDaemon = r.daemon(await startDaemon(r.folder(await tempHome())))
    const { page, errors, close } = await watchedPage()
    try {
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(url)
      // keyboard: the first Tab reaches the skip link, then the navigation; Enter follows a link
      await page.getByRole('heading', { name: 'Projects' }).waitFor()
      await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content')
      for (let i = 0; i < 2; i++) await page.keyboard.press('Tab')
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Launch')
      await page.keyboard.press('Enter')
      await page.getByRole('heading', { name: 'Launch a job' }).waitFor()
      await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Datasets' }).click()
      await page.getByText('No datasets yet').waitFor()
      const bytes = Buffer.alloc(3 * 1024 * 1024, 7)
      await page.getByLabel('Upload files').setInputFiles([{ name: 'weights.bin', mimeType: 'application/octet-stream', buffer: bytes }, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('two files\n') }])
      await page.getByLabel('as', { exact: true }).fill('weights')
      await page.getByRole('button', { name: 'Upload', exact: true }).click()
      await page.getByRole('heading', { name: 'weights:1' }).waitFor()
      const listed = await floeJson(['data', 'ls', '--home', d.home])
      expect(listed).toMatchObject([{ name: 'weights', version: 1, files: 2, bytes: bytes.length + 10 }])
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /notes\.txt/ }).click()])
      expect(await readFile(await download.path(), 'utf8')).toBe('two files\n')
      expect(errors).toEqual([])
    } finally {
      await close()
    }
  })
})
