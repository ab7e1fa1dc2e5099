import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { launchChromium, screenshot } from '../helpers/browser.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

/**
 * Issue 18, items 6 and 8: forwarding a port needs nothing in the image (the provider's
 * static busybox is mounted read-only at /.floe/busybox and relays for it), a background
 * process outlives the command that started it, and `floe run --serve PORT` forwards a batch
 * job's port here while it runs.
 */
const exec = promisify(execFile)
const r = resources()
const suffix = randomBytes(4).toString('hex')
/** images this file built: removed at the end */
const images: string[] = []
/** where forwarded ports listen: a loopback address of their own, not the web UI's */
const FORWARD_HOST = '127.0.0.2'

afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  if (images.length > 0) await exec('docker', ['rmi', '-f', ...images]).catch(() => {})
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

/** `docker build` of a Dockerfile next to a copy of the host's static busybox. */
async function buildImage (name: string, dockerfile: string): Promise<string> {
  const dir = r.folder(await tempHome('floe-image-'))
  await copyFile('/bin/busybox', join(dir, 'busybox'))
  await writeFile(join(dir, 'Dockerfile'), dockerfile)
  const tag = `floe-test-serve/${name}:${suffix}`
  await exec('docker', ['build', '--network', 'none', '-q', '-t', tag, dir])
  images.push(tag)
  return tag
}

/** The image published as an environment of `d` (which is also its provider). */
async function environment (d: RunningDaemon, image: string, name: string): Promise<string> {
  const published = await floeJson(['env', 'publish', image, '--name', `${name}-${suffix}`, '--home', d.home])
  return published.name as string
}

/** Whether a connection to FORWARD_HOST:`port` is refused. */
async function refused (port: number): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const socket = connect(port, FORWARD_HOST)
    socket.on('connect', () => { socket.destroy(); resolve(false) })
    socket.on('error', (err: any) => { resolve(err?.code === 'ECONNREFUSED') })
  })
}

describe('forwarding without anything in the image', () => {
  it('floe run --serve reaches an HTTP server in a job whose image has no shell and no nc (only busybox as /bin/httpd); floe serve ls lists it; floe stop closes it', { timeout: 180_000 }, async () => {
    const d = await r.start('--provider')
    // no applet links: run as `httpd`, busybox is httpd and nothing else
    const image = await buildImage('httpd-only', [
      'FROM scratch',
      'COPY busybox /bin/httpd',
      'WORKDIR /code'
    ].join('\n') + '\n')
    const env = await environment(d, image, 'httpd-only')
    const page = `<html>served from a job ${suffix}</html>\n`
    const code = await r.codeFolder({ 'index.html': page })
    const run = await floe(['run', '--path', code, '--env', env, '--provider', d.endpoint.peerId, '--serve', '8080', '--json', '--home', d.home, '--', '/bin/httpd', '-f', '-p', '8080', '-h', '/code'], { timeoutMs: 120_000 })
    expect(run.code, run.stderr).toBe(0)
    const job = JSON.parse(run.stdout)
    expect(job.spec.serve).toEqual([8080])
    expect(job.serving).toHaveLength(1)
    const [serving] = job.serving
    expect(serving).toMatchObject({ ref: job.ref, host: FORWARD_HOST, remote: 8080 })

    // the server may take a moment to listen after the container starts
    let body = ''
    await expect.poll(async () => {
      body = await fetch(`http://${FORWARD_HOST}:${serving.local as number}/index.html`).then(async res => res.ok ? await res.text() : '').catch(() => '')
      return body
    }, { timeout: 30_000 }).toBe(page)
    expect(Buffer.from(body)).toEqual(Buffer.from(page))

    const listed = await floeJson(['serve', 'ls', '--home', d.home])
    expect(listed).toEqual([{ ref: job.ref, host: FORWARD_HOST, remote: 8080, local: serving.local }])
    const table = await floe(['serve', 'ls', '--home', d.home])
    expect(table.stdout).toContain(`http://${FORWARD_HOST}:${serving.local as number}`)

    // the job's page in the web UI links to it while it runs
    const browser = await launchChromium()
    try {
      const tab = await browser.newPage()
      const { url } = await floeJson(['ui', '--no-open', '--home', d.home])
      await tab.goto(url)
      await tab.goto(`${d.endpoint.url}/jobs/${encodeURIComponent(job.ref as string)}`)
      const link = tab.getByRole('link', { name: `http://${FORWARD_HOST}:${serving.local as number}/` })
      await link.waitFor({ timeout: 15_000 })
      await screenshot(tab, 'job-serving')
      const href = await link.getAttribute('href')
      expect(href).toBe(`http://${FORWARD_HOST}:${serving.local as number}/`)
      await tab.goto(href as string)
      expect(await tab.locator('body').innerText()).toContain(`served from a job ${suffix}`)
    } finally {
      await browser.close()
    }

    // the image has neither sh nor nc: the job's container really lacks them
    const { stdout: containers } = await exec('docker', ['ps', '-q', '--filter', `label=org.floe.job=${job.jobId as string}`])
    const noShell = await exec('docker', ['exec', containers.trim(), 'sh', '-c', 'true']).then(() => 'ran', () => 'failed')
    expect(noShell).toBe('failed')
    const noNc = await exec('docker', ['exec', containers.trim(), 'nc', '-h']).then(() => 'ran', () => 'failed')
    expect(noNc).toBe('failed')

    // a batch job gives no terminal, even to its own client
    const shell = await floe(['shell', job.ref, '--home', d.home, '--', 'true'])
    expect(shell.code).toBe(1)
    expect(shell.stderr).toMatch(/is a job, not a workspace/)

    const stopped = await floe(['stop', job.ref, '--home', d.home])
    expect(stopped.code, stopped.stderr).toBe(0)
    await expect.poll(async () => await refused(serving.local as number), { timeout: 15_000 }).toBe(true)
    expect(await floeJson(['serve', 'ls', '--home', d.home])).toEqual([])
  })

  it('refuses bad --serve values with one clear line', async () => {
    const d = await r.start()
    for (const [value, message] of [['0', /--serve 0: expected a port number from 1 to 65535/], ['http', /--serve http: expected a port number/], ['70000', /--serve 70000: expected a port number/]] as const) {
      const result = await floe(['run', '--serve', value, '--home', d.home, '--', 'true'])
      expect(result.code).toBe(1)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(message)
    }
  })

  it('a workspace whose image has no nc: a server started with floe shell --detach outlives the CLI and is reached through floe workspace port', { timeout: 180_000 }, async () => {
    const d = await r.start('--provider')
    const image = await buildImage('no-nc', [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'RUN ["/bin/busybox", "rm", "/bin/nc"]',
      'RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/code", "/output", "/home/floe"]',
      'WORKDIR /code'
    ].join('\n') + '\n')
    const env = await environment(d, image, 'no-nc')
    const code = r.folder(await tempHome('floe-code-'))
    const ws = await floeJson(['workspace', 'start', 'dev', '--env', env, '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])
    await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 60_000 }).toBe('running')

    const page = `<html>from the background ${suffix}</html>\n`
    const wrote = await floe(['shell', ws.ref, '--home', d.home, '--', 'sh', '-c', `printf '%s\\n' '${page.trim()}' > /home/floe/index.html; test -e /bin/nc || echo no-nc`])
    expect(wrote.code, wrote.stderr).toBe(0)
    expect(wrote.stdout).toContain('no-nc')

    // nothing listens yet: the probe says so, without nc in the image
    const nothing = await floe(['workspace', 'port', ws.ref, '8080', '--home', d.home])
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toMatch(/nothing listens on port 8080 inside workspace/)

    // started in the background; the CLI has exited when it returns
    const started = await floe(['shell', ws.ref, '--detach', '--json', '--home', d.home, '--', 'httpd', '-f', '-v', '-p', '8080', '-h', '/home/floe'])
    expect(started.code, started.stderr).toBe(0)
    const detached = JSON.parse(started.stdout)
    expect(detached.id).toMatch(/^[0-9a-f]+$/)
    expect(detached.log).toBe(`/home/floe/.floe/bg-${detached.id as string}.log`)
    await new Promise(resolve => setTimeout(resolve, 500))
    const forward = await floeJson(['workspace', 'port', ws.ref, '8080', '--home', d.home])
    const res = await fetch(`http://${FORWARD_HOST}:${forward.local as number}/index.html`)
    expect(await res.text()).toBe(page)
    // its output went to its log in the home
    await expect.poll(async () => (await floe(['shell', ws.ref, '--home', d.home, '--', 'cat', detached.log])).stdout, { timeout: 5_000 }).toMatch(/response:200/)

    const noCommand = await floe(['shell', ws.ref, '--detach', '--home', d.home])
    expect(noCommand.code).toBe(1)
    expect(noCommand.stderr).toMatch(/--detach needs a command after --/)

    // the workspace's stop ends it
    await floeJson(['workspace', 'stop', ws.ref, '--home', d.home])
    await expect.poll(async () => await refused(forward.local as number), { timeout: 15_000 }).toBe(true)
  })
})
