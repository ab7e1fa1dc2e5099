import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Screenshots of the web UI's pages: test artifacts, not committed (.cache is ignored). */
export const ARTIFACTS = resolve(import.meta.dirname, '../../.cache/e2e-artifacts')

/** Debian's chromium, headless, as these machines allow it (Playwright's own download does not work here). */
export async function launchChromium (): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true })
  return await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update']
  })
}

export async function screenshot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}
