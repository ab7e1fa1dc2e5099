import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { NO_JUPYTER } from '../../protocol/workspaces/notebook.js'
import { launchChromium } from '../helpers/browser.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/**
 * Issue 18: a Jupyter workspace's notebook is served by a provider (hostile). Opened through
 * the daemon, it must never receive the web UI's session cookie or floe's API token, and its
 * pages must not be able to call the API as the user. The notebook here is a stand-in on
 * busybox (its `jupyter-notebook` is an httpd whose CGI shows what it was sent), so this runs
 * in seconds; test/e2e/notebook.test.ts runs the real Jupyter.
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

/** A stand-in for Jupyter: serves on 127.0.0.1:8888 in the container; /cgi-bin/echo shows the request. */
const FAKE_JUPYTER = `#!/bin/sh
mkdir -p "$HOME/nb/cgi-bin"
printf '#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\necho "cookie:[$HTTP_COOKIE]"\\necho "token:[$JUPYTER_TOKEN]"\\n' > "$HOME/nb/cgi-bin/echo"
chmod +x "$HOME/nb/cgi-bin/echo"
echo "fake notebook: $*"
exec httpd -f -p 127.0.0.1:8888 -h "$HOME/nb"
`

describe('a Jupyter workspace\'s notebook and floe\'s credentials', () => {
  it('reaches the notebook on an origin of its own, without floe\'s cookies or Authorization; its pages cannot call the API', async () => {
    const headerLog = join(r.folder(await tempHome('floe-headers-')), 'headers.jsonl')
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider'], { env: { FLOE_TEST_NOTEBOOK_HEADERS: headerLog } }))
    started.add(d.endpoint.peerId)
    const build = r.folder(await tempHome('floe-fakejup-'))
    await writeFile(join(build, 'jupyter-notebook'), FAKE_JUPYTER, { mode: 0o755 })
    await writeFile(join(build, 'Dockerfile'), 'COPY jupyter-notebook /bin/jupyter-notebook\nRUN ["/bin/busybox", "chmod", "755", "/bin/jupyter-notebook"]\n')
    const env = await floe(['env', 'build', 'fakejup', '--from', 'busybox', '--file', join(build, 'Dockerfile'), '--home', d.home])
    expect(env.code, env.stderr).toBe(0)
    const code = r.folder(await tempHome('floe-code-'))
    // the default (no --jupyter): the environment has a jupyter-notebook, so it starts
    const ws = await floeJson(['workspace', 'start', 'nb', '--env', 'fakejup', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    const context = await browser.newContext()
    try {
      await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 90_000 }).toBe('running')
      let opened = await floe(['workspace', 'open', ws.ref, '--json', '--home', d.home])
      for (const deadline = Date.now() + 20_000; opened.code !== 0 && Date.now() < deadline; opened = await floe(['workspace', 'open', ws.ref, '--json', '--home', d.home])) {
        expect(opened.stderr).toMatch(/does not answer on port 8888 yet/)
      }
      expect(opened.code, opened.stderr).toBe(0)
      const notebook = JSON.parse(opened.stdout)
      const url = new URL(notebook.url)
      const token = url.searchParams.get('token') ?? ''
      expect(token).toMatch(/^[0-9a-f]{64}$/)
      expect(token).not.toBe(d.token)
      expect(url.hostname).toBe('127.0.0.2')
      expect(url.origin).not.toBe(new URL(d.endpoint.url).origin)
      // the CLI prints the same as the API
      expect((await floe(['workspace', 'open', ws.ref, '--home', d.home])).stdout.trim()).toBe(notebook.url)

      // the browser signs in to the UI, and (as if it leaked there) holds a floe_session cookie for the notebook's host too
      const page = await context.newPage()
      const { url: signIn } = await floeJson(['ui', '--no-open', '--home', d.home])
      await page.goto(signIn)
      expect(await (await page.request.get(`${d.endpoint.url}${RAW_PATHS.uiSession}`)).json()).toEqual({ signedIn: true })
      const session = (await context.cookies(d.endpoint.url)).find(c => c.name === 'floe_session')
      expect(session).toBeDefined()
      await context.addCookies([
        { name: 'floe_session', value: session?.value ?? '', domain: url.hostname, path: '/' },
        { name: 'notebook_own', value: 'kept', domain: url.hostname, path: '/' }
      ])

      await page.goto(`${url.origin}/cgi-bin/echo?token=${token}`)
      const body = await page.locator('body').innerText()
      expect(body).toContain('cookie:[notebook_own=kept]')
      expect(body).not.toContain('floe_session')
      // the notebook's token is its own, in the container
      expect(body).toContain(`token:[${token}]`)

      // a page of the notebook's sends Authorization to its own origin: it is not forwarded
      const echoed = await page.evaluate(async () => await (await fetch('/cgi-bin/echo', { headers: { Authorization: 'Bearer stolen' } })).text())
      expect(echoed).toContain('cookie:[notebook_own=kept]')

      // ... and it cannot call the API as the user: a read fails, a write is refused (the workspace still runs)
      const api = d.endpoint.url
      const read = await page.evaluate(async (u: string) => {
        try { return String((await fetch(`${u}/api/v1/workspaces`, { credentials: 'include' })).status) } catch (err: any) { return `failed: ${String(err?.message ?? err)}` }
      }, api)
      expect(read).toMatch(/^(403|failed: )/)
      await page.evaluate(async ({ u, ref }: { u: string, ref: string }) => {
        await fetch(`${u}/api/v1/jobs/stop`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ ref }) }).catch(() => {})
      }, { u: api, ref: ws.ref })
      const forged = await fetch(`${api}/api/v1/workspaces`, { headers: { Origin: url.origin, Authorization: `Bearer ${d.token}` } })
      expect(forged.status).toBe(403)
      expect((await floeJson(['status', ws.ref, '--home', d.home])).state).toBe('running')

      // what reached the notebook, request by request: never floe's cookie or an Authorization
      const forwarded = (await readFile(headerLog, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
      expect(forwarded.length).toBeGreaterThanOrEqual(2)
      for (const request of forwarded) {
        expect(request.headers.authorization).toBeUndefined()
        expect(String(request.headers.cookie ?? '')).not.toContain('floe_session')
        expect(JSON.stringify(request)).not.toContain(session?.value)
        expect(JSON.stringify(request)).not.toContain(d.token)
      }
      expect(forwarded.some(request => request.headers.cookie === 'notebook_own=kept')).toBe(true)
    } finally {
      await context.close()
      await floe(['workspace', 'stop', ws.ref, '--home', d.home])
    }
  }, 300_000)

  it('says why a workspace has no notebook: none in its environment, --no-jupyter, or --jupyter where there is none', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    started.add(d.endpoint.peerId)
    const code = r.folder(await tempHome('floe-code-'))
    // --jupyter where there is none: the workspace fails, and says why in its log
    const on = await floeJson(['workspace', 'start', 'on', '--jupyter', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    await expect.poll(async () => (await floeJson(['status', on.ref, '--home', d.home])).state, { timeout: 90_000 }).toBe('failed')
    const log = await floe(['logs', on.ref, '--home', d.home])
    expect(log.stdout + log.stderr).toContain(NO_JUPYTER)
    const plain = await floeJson(['workspace', 'start', 'plain', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    const off = await floeJson(['workspace', 'start', 'off', '--no-jupyter', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    try {
      for (const ws of [plain, off]) await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 90_000 }).toBe('running')
      const none = await floe(['workspace', 'open', plain.ref, '--home', d.home])
      expect(none.code).not.toBe(0)
      expect(none.stderr.trim().split('\n')).toHaveLength(1)
      expect(none.stderr).toMatch(/its environment busybox has no jupyter-notebook or jupyter-lab; restart it in one that has/)
      const without = await floe(['workspace', 'open', off.ref, '--home', d.home])
      expect(without.code).not.toBe(0)
      expect(without.stderr).toMatch(/was started without a notebook \(--no-jupyter/)
    } finally {
      for (const ws of [plain, off]) await floe(['workspace', 'stop', ws.ref, '--home', d.home])
    }
  }, 300_000)
})
