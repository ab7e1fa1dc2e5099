import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, screenshot } from '../helpers/browser.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { jupyterEnvironment } from '../helpers/jupyter-env.js'

/**
 * Issue 18: a Jupyter workspace in a real browser. The environment is Debian 12's Jupyter
 * Notebook on the python-3.11 recipe (built once per machine, minutes: see
 * helpers/jupyter-env.ts). The web UI's "Open notebook" button opens the notebook (served by
 * the daemon on 127.0.0.2, over the workspace's port tunnel, WebSockets included); a new
 * notebook runs a cell that reads the dataset mounted with --data; what reached the notebook
 * never carried floe's session cookie (the daemon records the headers it forwards).
 */
const r = resources()
const started = new Set<string>()
let browser: Browser
beforeAll(async () => { browser = await launchChromium() })
afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  await browser?.close()
  expect(await removeLeftContainers(started), 'containers left behind').toEqual([])
})

describe('the web UI: a Jupyter workspace', () => {
  it('opens the notebook from the workspace page and runs a cell that reads the mounted dataset; the notebook never gets floe_session', async () => {
    const headerLog = join(r.folder(await tempHome('floe-headers-')), 'headers.jsonl')
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider'], { env: { FLOE_TEST_NOTEBOOK_HEADERS: headerLog } }))
    started.add(d.endpoint.peerId)
    await jupyterEnvironment(d)
    const corpus = r.folder(await mkdtemp(join(tmpdir(), 'floe-corpus-')))
    await writeFile(join(corpus, 'numbers.csv'), 'n\n17\n25\n')
    await floeJson(['data', 'upload', corpus, '--name', 'numbers', '--home', d.home])
    const code = r.folder(await tempHome('floe-code-'))
    // no --jupyter: the environment has Jupyter, so the notebook starts by default
    const ws = await floeJson(['workspace', 'start', 'nb', '--env', 'jupyter', '--memory', '2g', '--data', 'numbers:/data', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    let notebookPage: Page | undefined
    try {
      const page = await context.newPage()
      page.on('pageerror', err => { errors.push(`${page.url()}: ${err.message}`) })
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(url)
      const session = (await context.cookies(d.endpoint.url)).find(c => c.name === 'floe_session')
      expect(session).toBeDefined()
      await page.goto(`${d.endpoint.url}/workspaces/${encodeURIComponent(ws.ref)}`)
      await page.getByRole('heading', { name: /^Workspace nb/ }).waitFor()
      await expect.poll(async () => await page.locator('h1 .badge').innerText(), { timeout: 60_000 }).toBe('running')

      // the notebook server takes a few seconds to listen: the button says so until it does
      const button = page.getByRole('button', { name: 'Open notebook' })
      for (const deadline = Date.now() + 60_000; ;) {
        const popup = context.waitForEvent('page', { timeout: 15_000 }).catch(() => undefined)
        await button.click()
        await page.getByRole('button', { name: 'Open notebook' }).waitFor()
        notebookPage = await Promise.race([popup, new Promise<undefined>(resolve => { setTimeout(() => { resolve(undefined) }, 5_000) })])
        if (notebookPage != null) break
        expect(await page.locator('main').innerText()).toMatch(/does not answer on port 8888 yet/)
        if (Date.now() > deadline) throw new Error('the notebook never answered')
        await page.waitForTimeout(2_000)
      }
      const nb = notebookPage
      nb.on('pageerror', err => { errors.push(`${nb.url()}: ${err.message}`) })
      await nb.waitForLoadState()
      const origin = new URL(nb.url()).origin
      expect(new URL(origin).hostname).toBe('127.0.0.2')
      expect(origin).not.toBe(new URL(d.endpoint.url).origin)
      // as if the UI's cookie had leaked to the notebook's host: the daemon must still keep it from the notebook
      await context.addCookies([{ name: 'floe_session', value: session?.value ?? '', domain: '127.0.0.2', path: '/' }])

      // the notebook's file list (Jupyter's own login, by its token, happened on the way)
      await nb.locator('#notebook_list').waitFor({ timeout: 30_000 })
      const created = context.waitForEvent('page', { timeout: 30_000 })
      await nb.locator('#new-dropdown-button').click()
      await nb.locator('#kernel-python3 a').click()
      const sheet = await created
      sheet.on('pageerror', err => { errors.push(`${sheet.url()}: ${err.message}`) })
      await sheet.locator('.CodeMirror').first().waitFor({ timeout: 30_000 })
      // the kernel is reached over a WebSocket, through the daemon
      await sheet.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 60_000 })
      await sheet.locator('.CodeMirror').first().click()
      await sheet.keyboard.insertText("rows = open('/data/numbers.csv').read().split()[1:]\nprint('total', sum(int(x) for x in rows))")
      await sheet.keyboard.press('Shift+Enter')
      await expect.poll(async () => await sheet.locator('.output_subarea').first().innerText().catch(() => ''), { timeout: 60_000 }).toContain('total 42')
      await screenshot(sheet, 'notebook-cell')

      // what reached the notebook: Jupyter's own cookies, never floe's, never an Authorization
      const forwarded = (await readFile(headerLog, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
      expect(forwarded.some(request => request.headers.upgrade === 'websocket')).toBe(true)
      expect(forwarded.some(request => /username-127-0-0-2/.test(String(request.headers.cookie ?? '')))).toBe(true)
      for (const request of forwarded) {
        expect(String(request.headers.cookie ?? '')).not.toContain('floe_session')
        expect(request.headers.authorization).toBeUndefined()
        expect(JSON.stringify(request)).not.toContain(session?.value)
      }
      expect(errors).toEqual([])
      // the CLI gives the same notebook
      expect(new URL((await floeJson(['workspace', 'open', ws.ref, '--home', d.home])).url).origin).toBe(origin)
    } finally {
      if (notebookPage != null) await screenshot(notebookPage, 'notebook-tree').catch(() => {})
      await context.close()
      await floe(['workspace', 'stop', ws.ref, '--home', d.home], { timeoutMs: 120_000 })
    }
  }, 30 * 60_000)
})
