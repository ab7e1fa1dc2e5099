import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { launchChromium } from '../helpers/browser.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/**
 * From the security issue: a workspace's forwarded port must never receive the web UI's
 * session cookie. Cookies are scoped by host, not port, so the forward must not share the
 * UI's host. A real browser signs in to the UI, then opens a page served from inside the
 * workspace (a CGI script that prints the Cookie header it was sent).
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

/** A CGI script in the workspace that shows what the browser sent it. */
const ECHO_COOKIE = [
  'mkdir -p /home/floe/www/cgi-bin',
  'printf \'#!/bin/sh\\necho "Content-Type: text/plain"\\necho\\necho "cookie:[$HTTP_COOKIE]"\\n\' > /home/floe/www/cgi-bin/echo',
  'chmod +x /home/floe/www/cgi-bin/echo',
  'httpd -p 8080 -h /home/floe/www',
  'sleep 0.3'
].join('; ')

describe('forwarded ports and the web UI session', () => {
  it('a page served through a forwarded port is never sent the web UI\'s session cookie', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    started.add(d.endpoint.peerId)
    const code = r.folder(await tempHome('floe-code-'))
    const ws = await floeJson(['workspace', 'start', 'web', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    const context = await browser.newContext()
    try {
      await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 30_000 }).toBe('running')
      const serving = await floe(['shell', ws.ref, '--home', d.home, '--', 'sh', '-c', ECHO_COOKIE])
      expect(serving.code, serving.stderr).toBe(0)
      const forward = await floeJson(['workspace', 'port', ws.ref, '8080', '--home', d.home])

      // the browser signs in to the UI: it holds a live session cookie for the UI's host
      const page = await context.newPage()
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(url)
      const session = await page.request.get(`${d.endpoint.url}${RAW_PATHS.uiSession}`)
      expect(await session.json()).toEqual({ signedIn: true })
      expect((await context.cookies(d.endpoint.url)).map(c => c.name)).toContain('floe_session')

      // the forwarded page, opened as the UI's link opens it: no cookie reaches the workspace
      const forwardUrl = `http://${forward.host as string}:${forward.local as number}/`
      await page.goto(`${forwardUrl}cgi-bin/echo`)
      expect((await page.locator('body').innerText()).trim()).toBe('cookie:[]')
      expect(new URL(forwardUrl).hostname).not.toBe(new URL(d.endpoint.url).hostname)
      expect(await context.cookies(forwardUrl)).toEqual([])
      // and the UI's address does not serve the forwarded port
      expect(forward.host).not.toMatch(/^(127\.0\.0\.1|localhost|\[::1\])$/)
    } finally {
      await context.close()
      await floe(['workspace', 'stop', ws.ref, '--home', d.home])
    }
  }, 120_000)
})
