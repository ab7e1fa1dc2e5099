import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { floeJson, resources, type RunningDaemon } from '../helpers/floe.js'

/** Screenshots this file keeps (git-ignored). */
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')

const r = resources()
let browser: Browser
let d: RunningDaemon
beforeAll(async () => {
  ;[browser, d] = await Promise.all([launchChromium(), r.start()])
  await mkdir(ARTIFACTS, { recursive: true })
})
afterAll(async () => {
  await browser?.close()
  await r.cleanup()
})

describe("the launch page's run config tasks", () => {
  it("offers the code folder's floe.yml tasks, pre-fills the form with the chosen one, and shows a broken config's line", async () => {
    const code = await r.codeFolder({
      'floe.yml': [
        'env: busybox',
        'command: echo defaults',
        'tasks:',
        '  train:',
        '    description: the long run',
        '    machine: gpu',
        '    memory: 6g',
        '    timeout: 3h',
        '    command: python train.py --lr 0.1',
        '    message: nightly',
        '    data: ["mnist:2:/data"]'
      ].join('\n') + '\n'
    })
    const broken = await r.codeFolder({ 'floe.yml': 'env: busybox\ncomand: x\n' })
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => { errors.push(err.message) })
    try {
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(url)
      await page.getByRole('heading', { name: 'Projects' }).waitFor()
      await page.goto(`${d.endpoint.url}/launch`)
      await page.getByRole('heading', { name: 'Launch a job' }).waitFor()

      await page.getByLabel('Code folder on this machine (optional)').fill(code)
      const task = page.getByLabel('Task')
      await task.waitFor()
      expect(await page.getByRole('group', { name: 'Run config (floe.yml)' }).isVisible()).toBe(true)
      expect(await task.locator('option').allInnerTexts()).toEqual(['choose…', "floe.yml's defaults", 'train — the long run'])
      await task.selectOption('train')
      const value = async (label: string): Promise<string> => await page.getByLabel(label, { exact: true }).inputValue()
      expect(await value('Command')).toBe('python train.py --lr 0.1')
      expect(await value('Environment')).toBe('busybox')
      // machine: gpu is 4 CPUs and 1 GPU; the task's own memory wins over the machine's
      expect([await value('CPUs'), await value('Memory'), await value('GPUs'), await value('Time limit')]).toEqual(['4', '6g', '1', '3h'])
      expect(await value('Message')).toBe('nightly')
      expect(await page.getByLabel('mount point 1').inputValue()).toBe('/data')
      expect(await page.getByLabel('source of mount 1').inputValue()).toBe('mnist:2')
      await page.screenshot({ path: join(ARTIFACTS, 'launch-task-picker.png'), fullPage: true })

      await task.selectOption({ label: "floe.yml's defaults" })
      expect(await value('Command')).toBe('echo defaults')

      await page.getByLabel('Code folder on this machine (optional)').fill(broken)
      await expect.poll(async () => await page.getByRole('alert').innerText()).toContain("floe.yml:2: unknown key 'comand'; did you mean 'command'?")
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
})
