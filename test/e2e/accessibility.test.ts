import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/accessibility')
const AXE = resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js')
const r = resources()
let browser: Browser
let context: BrowserContext
let page: Page
let d: RunningDaemon
let jobRef = ''

/** The element that has focus: its tag, role-ish name and text. */
const focused = async (): Promise<{ tag: string, name: string, text: string }> => await page.evaluate(`(() => {
  const el = document.activeElement
  return { tag: el?.tagName.toLowerCase() ?? '', name: el?.getAttribute('name') ?? '', text: (el?.textContent ?? '').trim() }
})()`)

/** Presses Tab until `match` holds for the focused element (at most 40 times). */
async function tabTo (match: (el: { tag: string, name: string, text: string }) => boolean, what: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab')
    if (match(await focused())) return
  }
  throw new Error(`Tab never reached ${what}`)
}

/** axe-core's serious and critical violations on the page as it is now. */
async function violations (target: Page): Promise<string[]> {
  if (await target.evaluate('typeof window.axe') === 'undefined') await target.addScriptTag({ path: AXE })
  const result = await target.evaluate(`axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' (' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') + ')'))`)
  return result as string[]
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true })
  browser = await launchChromium()
  d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  const folder = r.folder(await mkdtemp(join(tmpdir(), 'floe-a11y-')))
  await writeFile(join(folder, 'a.txt'), 'a\n')
  await floeJson(['data', 'upload', folder, '--name', 'corpus', '--home', d.home])
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  page = await context.newPage()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await r.cleanup()
})

describe('the web UI without a mouse, and with a screen reader', () => {
  it('keyboard only: launch a job, land on its page, stop it after confirming', async () => {
    const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
    await page.goto(url)
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor()
    expect(await page.title()).toBe('Projects — floe')

    await tabTo(el => el.tag === 'a' && el.text === 'Launch', 'the Launch link')
    await page.keyboard.press('Enter')
    // focus moves to the new page's heading
    await expect.poll(async () => await focused()).toMatchObject({ tag: 'h1', text: 'Launch a job' })
    expect(await page.title()).toMatch(/^Launch.* — floe$/)

    await tabTo(el => el.name === 'command', 'the command field')
    await page.keyboard.type('sleep 300')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor({ timeout: 30_000 })
    jobRef = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '')
    expect(await page.title()).toBe(`Job ${jobRef} — floe`)
    await expect.poll(async () => (await focused()).tag).toBe('h1')
    await expect.poll(async () => await page.locator('h1 .badge').innerText(), { timeout: 30_000 }).toBe('running')

    // Stop asks first; Escape keeps the job running, with focus back on Stop
    await tabTo(el => el.tag === 'button' && el.text === 'Stop', 'Stop')
    await page.keyboard.press('Enter')
    await expect.poll(async () => await focused()).toMatchObject({ tag: 'button', text: 'Stop the job' })
    await page.screenshot({ path: join(SHOTS, 'stop-confirm.png') })
    await page.keyboard.press('Escape')
    await expect.poll(async () => await focused()).toMatchObject({ tag: 'button', text: 'Stop' })
    expect(await page.locator('h1 .badge').innerText()).toBe('running')

    await page.keyboard.press('Enter')
    await expect.poll(async () => (await focused()).text).toBe('Stop the job')
    await page.keyboard.press('Enter')
    await page.getByRole('button', { name: 'Stopping…' }).waitFor()
    await expect.poll(async () => await page.locator('h1 .badge').innerText(), { timeout: 30_000 }).toBe('stopped')
    expect(await page.getByRole('button', { name: /^Stop/ }).count()).toBe(0)
  })

  it('every page at 1280×800 and 390×844: a title of its own, landmarks, labelled controls, no serious axe violation', async () => {
    expect(jobRef).not.toBe('')
    const project = jobRef.split('/').slice(0, -1).join('/')
    const pages: Array<[string, RegExp]> = [
      ['/', /^Projects — floe$/],
      [`/projects/${encodeURIComponent(project)}`, /^Project .+ — floe$/],
      [`/jobs/${encodeURIComponent(jobRef)}`, /^Job .+ — floe$/],
      ['/launch', /^Launch.* — floe$/],
      ['/workspaces', /^Workspaces — floe$/],
      ['/datasets?name=corpus&version=1', /^Dataset corpus:1 — floe$/],
      ['/market', /^Market — floe$/],
      ['/billing', /^Billing — floe$/],
      ['/node', /^Node — floe$/]
    ]
    const found: string[] = []
    for (const [width, height] of [[1280, 800], [390, 844]] as const) {
      await page.setViewportSize({ width, height })
      for (const [path, title] of pages) {
        await page.goto(`${d.endpoint.url}${path}`)
        await page.locator('main h1').waitFor()
        await page.locator('main').getByText('Loading…').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {})
        expect(await page.title(), path).toMatch(title)
        expect(await page.locator('main').count(), `${path}: one main landmark`).toBe(1)
        expect(await page.getByRole('navigation', { name: 'main' }).count(), path).toBe(1)
        for (const v of await violations(page)) found.push(`${width}px ${path}: ${v}`)
        await page.screenshot({ path: join(SHOTS, `${width}-${path.split('?')[0]?.replace(/[^a-z0-9]+/gi, '_') ?? ''}.png`), fullPage: true })
      }
    }
    // the sign-in page, without a session
    const anonymous = await browser.newPage()
    await anonymous.goto(d.endpoint.url)
    await anonymous.getByRole('heading', { level: 1 }).waitFor()
    expect(await anonymous.title()).toBe('Sign in — floe')
    for (const v of await violations(anonymous)) found.push(`sign-in: ${v}`)
    await anonymous.close()
    expect(found).toEqual([])
  }, 180_000)
})
