import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { connect, createServer } from 'node:net'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { removeContainers, removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, addr, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

const exec = promisify(execFile)
const r = resources()
afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

/** Connects to a local port, sends `body` (then half-closes), and counts what comes back. */
async function transfer (port: number, body: Buffer | null): Promise<number> {
  return (await exchange(port, body)).byteLength
}
async function transferText (port: number, body: Buffer): Promise<string> {
  return (await exchange(port, body)).toString('utf8')
}
/** where forwarded ports listen: a loopback address of their own, not the web UI's */
const FORWARD_HOST = '127.0.0.2'
async function exchange (port: number, body: Buffer | null): Promise<Buffer> {
  const socket = connect(port, FORWARD_HOST)
  const chunks: Buffer[] = []
  socket.on('data', chunk => { chunks.push(chunk) })
  await new Promise<void>((resolve, reject) => {
    socket.on('connect', () => { if (body != null) socket.write(body); socket.end() })
    socket.on('close', hadError => { if (hadError) reject(new Error('the connection was reset')); else resolve() })
    socket.on('error', reject)
  })
  return Buffer.concat(chunks)
}

/** `floe workspace start` and wait until it runs. */
async function startWorkspace (d: RunningDaemon, provider: string, extra: string[] = []): Promise<any> {
  const code = r.folder(await tempHome('floe-code-'))
  const ws = await floeJson(['workspace', 'start', 'dev', '--path', code, '--provider', provider, ...extra, '--home', d.home])
  await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', d.home])).state, { timeout: 30_000 }).toBe('running')
  return ws
}

/** A terminal through the daemon's WebSocket, as the CLI and the web UI open it. */
async function terminal (d: RunningDaemon, ref: string, size = { cols: 80, rows: 24 }): Promise<{ send: (text: string) => void, resize: (cols: number, rows: number) => void, until: (pattern: RegExp, timeoutMs?: number) => Promise<string>, exit: Promise<number | null>, close: () => void }> {
  const url = `${d.endpoint.url.replace(/^http/, 'ws')}/api/v1/workspaces/shell?ref=${encodeURIComponent(ref)}&cols=${size.cols}&rows=${size.rows}`
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${d.token}` } })
  let output = ''
  const waiters = new Set<() => void>()
  let exitCode: (code: number | null) => void = () => {}
  const exit = new Promise<number | null>(resolve => { exitCode = resolve })
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (data, binary) => {
      const text = Buffer.from(data as Buffer).toString('utf8')
      if (binary) {
        output += text
        for (const wake of waiters) wake()
        return
      }
      const message = JSON.parse(text)
      if (message.type === 'ready') resolve()
      if (message.type === 'exit') exitCode(message.code)
      if (message.type === 'error') reject(new Error(message.message))
    })
    ws.on('error', reject)
  })
  await ready
  return {
    send: text => { ws.send(Buffer.from(text), { binary: true }) },
    resize: (cols, rows) => { ws.send(JSON.stringify({ type: 'resize', cols, rows })) },
    until: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${output}`)
        await new Promise<void>(resolve => { waiters.add(resolve); setTimeout(resolve, 200) })
      }
      const match = pattern.exec(output)
      output = output.slice((match?.index ?? 0) + (match?.[0].length ?? 0))
      return match?.[0] ?? ''
    },
    exit,
    close: () => { ws.close() }
  }
}

describe('workspaces', () => {
  it('gives a real terminal: commands and their output, resize, Ctrl-C, exit status; a TCP server inside is reached through a forwarded port while the container has no network', async () => {
    const d = await r.start('--provider')
    const ws = await startWorkspace(d, d.endpoint.peerId)
    const term = await terminal(d, ws.ref, { cols: 100, rows: 30 })
    term.send('echo hello-$((6*7)) from $(pwd)\r')
    await term.until(/hello-42 from \/home\/floe/)
    term.send('stty size\r')
    await term.until(/30 100/)
    term.resize(132, 43)
    await new Promise(resolve => setTimeout(resolve, 300))
    term.send('stty size\r')
    await term.until(/43 132/)
    // Ctrl-C interrupts the running command, and the shell goes on
    const before = Date.now()
    term.send('sleep 30; echo not-interrupted\r')
    await new Promise(resolve => setTimeout(resolve, 500))
    term.send('\x03')
    term.send('echo after-$((1+1))\r')
    await term.until(/after-2/)
    expect(Date.now() - before).toBeLessThan(10_000)
    term.send('exit 7\r')
    expect(await term.exit).toBe(7)

    // several terminals at once; the CLI's `floe shell -- COMMAND` exits with its status
    const [a, b] = await Promise.all([terminal(d, ws.ref), terminal(d, ws.ref)])
    a.send('echo one\r')
    b.send('echo two\r')
    await Promise.all([a.until(/one/), b.until(/two/)])
    a.close()
    b.close()
    const shell = await floe(['shell', ws.ref, '--home', d.home, '--', 'sh', '-c', 'echo "<html>served from the workspace</html>" > index.html; exit 3'])
    expect(shell.code).toBe(3)

    // a server inside, reached through a local port; the container itself has no network
    const started = await floe(['shell', ws.ref, '--home', d.home, '--', 'sh', '-c', 'httpd -p 8080 -h /home/floe; sleep 0.3'])
    expect(started.code).toBe(0)
    const forward = await floeJson(['workspace', 'port', ws.ref, '8080', '--home', d.home])
    expect(forward.host).toBe(FORWARD_HOST)
    const page = await fetch(`http://${FORWARD_HOST}:${forward.local as number}/index.html`)
    expect(await page.text()).toBe('<html>served from the workspace</html>\n')
    const job = await floeJson(['status', ws.ref, '--home', d.home])
    const { stdout: containers } = await exec('docker', ['ps', '-q', '--filter', `label=org.floe.job=${job.jobId as string}`])
    const { stdout: network } = await exec('docker', ['inspect', '-f', '{{.HostConfig.NetworkMode}}', containers.trim()])
    expect(network.trim()).toBe('none')
    const listed = await floeJson(['workspace', 'ls', '--home', d.home])
    expect(listed.ports).toEqual([{ ref: ws.ref, host: FORWARD_HOST, remote: 8080, local: forward.local }])

    // bad input, each with one clear line
    const nothing = await floe(['workspace', 'port', ws.ref, '9099', '--home', d.home])
    expect(nothing.stderr).toMatch(/nothing listens on port 9099 inside workspace/)
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, FORWARD_HOST, resolve))
    const busy = await floe(['workspace', 'port', ws.ref, '8080', '--local', String((taken.address() as { port: number }).port), '--home', d.home])
    taken.close()
    expect(busy.stderr).toMatch(/local port \d+ is in use/)
    const unknown = await floe(['shell', 'default/99', '--home', d.home, '--', 'true'])
    expect(unknown.stderr).toMatch(/no job default\/99/)
    await floeJson(['workspace', 'stop', ws.ref, '--home', d.home])
    const stopped = await floe(['shell', ws.ref, '--home', d.home, '--', 'true'])
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toMatch(/workspace \S+ is stopped; restart it with floe workspace restart/)
  })

  it('keeps the home across stop → restart on a second provider, and stops (and saves) a workspace left idle', { timeout: 150_000 }, async () => {
    const first = await r.start('--provider')
    const second = await r.start('--provider')
    const client = await r.start()
    for (const p of [first, second]) await floeJson(['connect', await addr(p), '--home', client.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(2)

    const ws = await startWorkspace(client, first.endpoint.peerId)
    const wrote = await floe(['shell', ws.ref, '--home', client.home, '--', 'sh', '-c', 'mkdir -p notes && echo "kept across machines" > notes/today.txt'])
    expect(wrote.code).toBe(0)
    const stopped = await floeJson(['workspace', 'stop', ws.ref, '--home', client.home])
    expect(stopped).toMatchObject({ state: 'stopped', outputCid: expect.any(String) })

    const moved = await floeJson(['workspace', 'restart', ws.ref, '--provider', second.endpoint.peerId, '--home', client.home])
    // the save holds home/ and code/ (and a marker): the restart starts from its home/
    expect(moved.spec.workspace.home).toEqual(expect.any(String))
    expect(moved.spec.workspace.home).not.toBe(stopped.outputCid)
    await expect.poll(async () => (await floeJson(['status', moved.ref, '--home', client.home])).state, { timeout: 30_000 }).toBe('running')
    expect((await floeJson(['status', moved.ref, '--home', client.home])).provider).toBe(second.endpoint.peerId)
    const read = await floe(['shell', moved.ref, '--home', client.home, '--', 'cat', 'notes/today.txt'])
    expect(read.stdout).toBe('kept across machines\r\n')
    // megabytes both ways through a port forwarded to this remote provider, every byte there
    const size = 12 * 1024 * 1024
    const servers = await floe(['shell', moved.ref, '--home', client.home, '--', 'sh', '-c',
      `(setsid nc -ll -p 9000 -e sh -c 'head -c ${size} /dev/zero' </dev/null >/dev/null 2>&1 &); (setsid nc -ll -p 9001 -e sh -c 'wc -c' </dev/null >/dev/null 2>&1 &); sleep 0.3`])
    expect(servers.code).toBe(0)
    const source = await floeJson(['workspace', 'port', moved.ref, '9000', '--home', client.home])
    const sink = await floeJson(['workspace', 'port', moved.ref, '9001', '--home', client.home])
    expect(await transfer(source.local, null)).toBe(size)
    expect(Number((await transferText(sink.local, Buffer.alloc(size, 1))).trim())).toBe(size)
    await floeJson(['workspace', 'stop', moved.ref, '--home', client.home])

    // idle: no terminal or port traffic for 3 s → stopped, home saved
    // `floe shell` right after the start waits for it to run
    const code = r.folder(await tempHome('floe-code-'))
    const idle = await floeJson(['workspace', 'start', 'idler', '--path', code, '--provider', second.endpoint.peerId, '--idle-timeout', '3s', '--home', client.home])
    const touched = await floe(['shell', idle.ref, '--home', client.home, '--', 'sh', '-c', 'echo idle-home > marker'], { timeoutMs: 60_000 })
    expect(touched.code).toBe(0)
    await expect.poll(async () => (await floeJson(['status', idle.ref, '--home', client.home])).state, { timeout: 20_000 }).toBe('stopped')
    const final = await floeJson(['status', idle.ref, '--home', client.home])
    expect(final.reason).toMatch(/idle for 3 s/)
    expect(final.outputCid).toEqual(expect.any(String))
    const home = r.folder(await tempHome('floe-home-'))
    await floeJson(['output', idle.ref, `${home}/h`, '--home', client.home])
    expect((await exec('cat', [`${home}/h/home/marker`])).stdout).toBe('idle-home\n')
  })

  it('when its provider vanishes, says so and restarts elsewhere from the last home saved while it ran', { timeout: 150_000 }, async () => {
    const doomed = await r.start('--provider')
    const spare = await r.start('--provider')
    const client = await r.start()
    for (const p of [doomed, spare]) await floeJson(['connect', await addr(p), '--home', client.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(2)
    const ws = await startWorkspace(client, doomed.endpoint.peerId, ['--snapshot-every', '2s'])
    expect((await floe(['shell', ws.ref, '--home', client.home, '--', 'sh', '-c', 'echo saved-while-running > work.txt'])).code).toBe(0)
    // a save that holds the write reaches the client (which fetches and keeps it); a save
    // begun before the write may land after it, so the client's copy itself is read
    const saves = r.folder(await tempHome('floe-saves-'))
    await expect.poll(async () => {
      const home = (await floeJson(['status', ws.ref, '--home', client.home])).homeCid
      if (home == null) return false
      const dest = join(saves, home)
      if (!existsSync(dest) && (await floe(['data', 'get', home, dest, '--home', client.home])).code !== 0) return false
      return existsSync(join(dest, 'home', 'work.txt'))
    }, { timeout: 30_000, interval: 1000 }).toBe(true)
    await doomed.stop('SIGKILL')
    await expect.poll(async () => (await floeJson(['status', ws.ref, '--home', client.home])).state, { timeout: 40_000, interval: 1000 }).toBe('lost')
    const told = await floe(['shell', ws.ref, '--home', client.home, '--', 'true'])
    expect(told.stderr).toMatch(/is lost: its provider vanished \(its home was last saved as \S+\); restart it elsewhere with floe workspace restart/)
    const moved = await floeJson(['workspace', 'restart', ws.ref, '--provider', spare.endpoint.peerId, '--home', client.home])
    expect(moved.spec.workspace.home).toEqual(expect.any(String))
    await expect.poll(async () => (await floeJson(['status', moved.ref, '--home', client.home])).state, { timeout: 30_000 }).toBe('running')
    const read = await floe(['shell', moved.ref, '--home', client.home, '--', 'cat', 'work.txt'])
    expect(read.stdout).toBe('saved-while-running\r\n')
    await floeJson(['workspace', 'stop', moved.ref, '--home', client.home])
    // the killed provider's container runs on until that daemon comes back; here it does not
    const { stdout } = await exec('docker', ['ps', '-a', '-q', '--filter', `label=org.floe.provider=${doomed.endpoint.peerId}`])
    const orphans = stdout.split('\n').filter(Boolean)
    expect(orphans).toHaveLength(1)
    await removeContainers(orphans)
  })
})
