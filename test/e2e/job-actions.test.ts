import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/browser.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, type RunningDaemon } from '../helpers/floe.js'

/** Screenshots this file keeps (git-ignored). */
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')

const r = resources()
let browser: Browser
let d: RunningDaemon
beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true })
  ;[browser, d] = await Promise.all([launchChromium(), r.start('--provider')])
})
afterAll(async () => {
  await browser?.close()
  await r.cleanup()
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

describe('the job page: restart and delete', () => {
  it('restarts a job with a code folder as it is now, and deletes one only once confirmed', async () => {
    const code = await r.codeFolder({ 'train.sh': 'echo one > /output/v.txt\n' })
    const run = await floe(['--home', d.home, 'run', '--path', code, '--json', '--follow', '--', 'sh', 'train.sh'], { timeoutMs: 60_000 })
    expect(run.code, run.stderr).toBe(0)
    const job = JSON.parse(run.stdout)
    const changed = await r.codeFolder({ 'train.sh': 'echo two > /output/v.txt\n' })

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => { errors.push(err.message) })
    try {
      await page.goto((await floeJson(['ui', '--no-open', '--home', d.home])).url)
      await page.getByRole('heading', { name: 'Projects' }).waitFor()
      await page.goto(`${d.endpoint.url}/jobs/${encodeURIComponent(job.ref)}`)
      await page.getByRole('heading', { name: `Job ${job.ref}` }).waitFor()

      // restart: the folder given is the new job's code
      await page.getByRole('button', { name: 'Restart…' }).click()
      await page.getByLabel('Code folder on this machine').fill(changed)
      await page.getByRole('button', { name: `Restart ${job.ref}` }).click()
      const next = job.ref.replace(/\/1$/, '/2')
      await page.getByRole('heading', { name: `Job ${next}` }).waitFor()
      const restarted = await floeJson(['status', next, '--home', d.home])
      expect(restarted.spec.code).not.toBe(job.spec.code)
      expect(restarted.spec.command).toEqual(['sh', 'train.sh'])

      // delete asks first; cancel leaves the job as it was
      await page.goto(`${d.endpoint.url}/jobs/${encodeURIComponent(job.ref)}`)
      await page.getByRole('button', { name: 'Delete…' }).click()
      const dialog = page.getByRole('alertdialog', { name: `delete ${job.ref}?` })
      await dialog.waitFor()
      await page.screenshot({ path: join(ARTIFACTS, 'job-delete-confirm.png'), fullPage: true })
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      await dialog.waitFor({ state: 'detached' })
      expect((await floeJson(['status', '--home', d.home])).map((j: any) => j.ref)).toContain(job.ref)

      await page.getByRole('button', { name: 'Delete…' }).click()
      await dialog.getByRole('button', { name: 'Yes, delete it' }).click()
      await expect.poll(async () => await page.getByRole('status').filter({ hasText: 'Deleted' }).count()).toBe(1)
      await page.screenshot({ path: join(ARTIFACTS, 'job-deleted.png'), fullPage: true })
      expect(await page.getByRole('button', { name: 'Delete…' }).count()).toBe(0)
      expect((await floeJson(['status', '--home', d.home])).map((j: any) => j.ref)).not.toContain(job.ref)
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
})
