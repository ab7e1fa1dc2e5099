// A workspace's terminal and forwarded port over /floe/tunnel/1.0.0, on loopback, beside
// baselines measured in the same run:
//   - keystroke round trip: one byte at a time through the terminal WebSocket
//     (`floe shell`'s path) into `stty raw -echo; cat` in the workspace, each sent once the
//     previous one came back; p50/p95. Beside one byte echoed on a raw libp2p stream (TCP +
//     noise + yamux, floe's stack) between two processes, and `docker exec` with a TTY
//     alone (the provider's own step, from this process);
//   - forwarded-port throughput: --mib through `floe workspace port` from a busybox
//     `nc -ll` server in the workspace (download: it sends zeros) and into one (upload:
//     `wc -c` answers the count), beside the same bytes on one raw libp2p stream between two
//     processes, and through `docker exec nc` alone (the provider's relay, from this process).
// Each with the workspace on the client's own daemon (local provider) and on a second daemon
// connected over loopback (remote). Usage:
//   node dist/bench/workspace-tunnel.js [--keys 200] [--mib 256] [--runs 3] [--json]
// (`--raw-peer` is this file's other half: the raw libp2p peer, started as a child process.)
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, type Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import Docker from 'dockerode'
import { createLibp2p, type Libp2p } from 'libp2p'
import WebSocket from 'ws'
import { NOBODY } from '../daemon/provider/executor.js'
import { SHELL_PATH } from '../protocol/api/workspace-routes.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'
import { FLOE_BIN, floeJson, mib, startBenchDaemon, timed, type BenchDaemon } from './helpers.js'

const ECHO = '/floe-bench/echo/1.0.0'
const SOURCE = '/floe-bench/source/1.0.0'
const SINK = '/floe-bench/sink/1.0.0'
const SOURCE_PORT = 9000
const SINK_PORT = 9001
const CHUNK = Buffer.alloc(1024 * 1024)

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '200' },
    mib: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'raw-peer': { type: 'boolean', default: false }
  }
})
const keys = Number(values.keys)
const size = Number(values.mib) * 1024 * 1024
const runs = Number(values.runs)

const stack = { transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] }

/** Writes `bytes` zeros to a writable with backpressure, `send` returning false when it is full. */
async function pushZeros (bytes: number, send: (chunk: Buffer) => boolean, drain: () => Promise<void>): Promise<void> {
  for (let left = bytes; left > 0; left -= CHUNK.byteLength) {
    if (!send(left >= CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, left))) await drain()
  }
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN
const median = (xs: number[]): number => percentile(xs, 0.5)
const spread = (xs: number[]): { p50: number, p95: number } => ({ p50: percentile(xs, 0.5), p95: percentile(xs, 0.95) })

/** Round trips of one byte: `send` it, then `next` resolves when it came back. */
async function roundTrips (send: (byte: Buffer) => void, next: () => Promise<void>): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < keys + 10; i++) {
    const byte = Buffer.from([97 + (i % 26)])
    const t0 = performance.now()
    send(byte)
    await next()
    if (i >= 10) times.push(performance.now() - t0) // the first few warm the path
  }
  return times
}

/** Collects incoming bytes; `until(n)` resolves once n bytes in all have come. */
function byteWaiter (): { push: (chunk: Uint8Array) => void, until: (n: number) => Promise<void>, text: () => string } {
  let got = Buffer.alloc(0)
  let waiting: { n: number, resolve: () => void } | undefined
  return {
    push (chunk) {
      got = Buffer.concat([got, chunk])
      if (waiting != null && got.byteLength >= waiting.n) { const w = waiting; waiting = undefined; w.resolve() }
    },
    async until (n) {
      if (got.byteLength >= n) return
      await new Promise<void>(resolve => { waiting = { n, resolve } })
    },
    text: () => got.toString('latin1')
  }
}

async function rawEcho (node: Libp2p, addr: string): Promise<number[]> {
  const stream = await node.dialProtocol(multiaddr(addr), ECHO)
  const got = byteWaiter()
  let total = 0
  stream.addEventListener('message', event => { got.push(event.data.subarray()) })
  const times = await roundTrips(byte => { stream.send(byte) }, async () => { await got.until(++total) })
  await stream.close()
  return times
}

async function rawSource (node: Libp2p, addr: string): Promise<number> {
  return await timed(async () => {
    const stream = await node.dialProtocol(multiaddr(addr), SOURCE)
    await stream.close()
    let received = 0
    for await (const chunk of stream) received += chunk.byteLength
    if (received !== size) throw new Error(`raw stream carried ${received} of ${size} bytes`)
  })
}

async function rawSink (node: Libp2p, addr: string): Promise<number> {
  return await timed(async () => {
    const stream = await node.dialProtocol(multiaddr(addr), SINK)
    let answer = ''
    const reading = (async () => { for await (const chunk of stream) answer += new TextDecoder().decode(chunk.subarray()) })()
    await pushZeros(size, chunk => stream.send(chunk), async () => { await stream.onDrain() })
    await reading
    await stream.close()
    if (Number(answer.trim()) !== size) throw new Error(`raw sink counted ${answer.trim()} of ${size} bytes`)
  })
}

function apiOf (home: string): { url: string, token: string } {
  const paths = homePaths(home)
  return { url: ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8'))).url, token: readFileSync(paths.apiToken, 'utf8').trim() }
}

/** Keystroke round trips through the daemon's terminal WebSocket into `cat` on a raw TTY. */
async function terminalEcho (home: string, ref: string): Promise<number[]> {
  const api = apiOf(home)
  const url = new URL(SHELL_PATH, api.url.replace(/^http/, 'ws'))
  url.searchParams.set('ref', ref)
  url.searchParams.set('cols', '80')
  url.searchParams.set('rows', '24')
  url.searchParams.set('command', JSON.stringify(['sh', '-c', 'stty raw -echo; echo READY; exec cat']))
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${api.token}` } })
  const got = byteWaiter()
  const closed = new Promise<void>((resolve, reject) => {
    ws.on('error', reject)
    ws.on('close', () => { resolve() })
  })
  ws.on('message', (data, binary) => {
    if (binary) got.push(data as Buffer)
    else if (JSON.parse(String(data)).type === 'error') ws.emit('error', new Error(String(data)))
  })
  try {
    while (!got.text().includes('READY')) await Promise.race([got.until(got.text().length + 1), closed.then(() => { throw new Error('the terminal closed before it was ready') })])
    let total = got.text().length
    return await roundTrips(byte => { ws.send(byte, { binary: true }) }, async () => { await got.until(++total) })
  } finally {
    ws.close()
    await closed.catch(() => {})
  }
}

/** The workspace's container, as Docker names it (for the `docker exec` references). */
async function containerOf (docker: Docker, jobId: string): Promise<Docker.Container> {
  const [found] = await docker.listContainers({ filters: { label: [`org.floe.job=${jobId}`] } })
  if (found == null) throw new Error(`no container for job ${jobId}`)
  return docker.getContainer(found.Id)
}

/** `docker exec` of `command` in the container with the provider's options; its hijacked stream, demuxed when there is no TTY. */
async function dockerExec (docker: Docker, container: Docker.Container, command: string[], tty: boolean): Promise<{ input: Duplex, output: NodeJS.ReadableStream }> {
  const exec = await container.exec({ Cmd: command, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: tty, User: NOBODY })
  const stream = await exec.start({ hijack: true, stdin: true, Tty: tty }) as unknown as Duplex
  if (tty) return { input: stream, output: stream }
  const plain = new PassThrough()
  docker.modem.demuxStream(stream, plain, plain)
  stream.on('end', () => { plain.end() })
  return { input: stream, output: plain }
}

async function dockerEcho (docker: Docker, container: Docker.Container): Promise<number[]> {
  const { input, output } = await dockerExec(docker, container, ['sh', '-c', 'stty raw -echo; echo READY; exec cat'], true)
  const got = byteWaiter()
  output.on('data', (chunk: Buffer) => { got.push(chunk) })
  while (!got.text().includes('READY')) await got.until(got.text().length + 1)
  let total = got.text().length
  const times = await roundTrips(byte => { input.write(byte) }, async () => { await got.until(++total) })
  input.destroy()
  return times
}

/**
 * --mib through a byte stream to or from a server in the workspace. Download: the source
 * sends on connect and closes. Upload: the sink takes exactly --mib and answers the count;
 * the client does not half-close first (see the note in BENCHMARKS.md: a forwarded port
 * loses what the server sends after the client's half-close).
 */
async function transfer (direction: 'download' | 'upload', input: Duplex, output: NodeJS.ReadableStream): Promise<void> {
  let received = 0
  let answer = ''
  let timer: NodeJS.Timeout | undefined
  const limitS = Math.max(60, mib(size)) // at least 1 MiB/s, or it has stalled
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`stalled: ${direction === 'download' ? `${received} bytes` : 'no answer'} after ${limitS} s`)) }, limitS * 1000)
      output.on('error', reject)
      output.once('close', () => { reject(new Error(`the connection closed after ${received} bytes, answer ${JSON.stringify(answer)}`)) })
      if (direction === 'download') {
        output.on('data', (chunk: Buffer) => { received += chunk.byteLength })
        output.once('end', () => { received === size ? resolve() : reject(new Error(`download carried ${received} of ${size} bytes`)) })
        return
      }
      output.on('data', (chunk: Buffer) => {
        answer += chunk.toString()
        if (!answer.includes('\n')) return
        if (Number(answer.trim()) === size) resolve()
        else reject(new Error(`the sink counted ${answer.trim()} of ${size} bytes`))
      })
      output.once('end', () => { reject(new Error(`the sink ended with ${JSON.stringify(answer)}`)) })
      pushZeros(size, chunk => input.write(chunk), async () => { await new Promise(resolve => input.once('drain', resolve)) }).catch(reject)
    })
  } finally {
    clearTimeout(timer)
    input.destroy()
  }
}

async function viaForward (direction: 'download' | 'upload', local: number): Promise<number> {
  return await timed(async () => {
    const socket = connect(local, '127.0.0.1')
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    await transfer(direction, socket, socket).catch((err: Error) => { throw new Error(`through the forwarded port: ${err.message}`) })
  })
}

async function viaDockerExec (docker: Docker, container: Docker.Container, direction: 'download' | 'upload'): Promise<number> {
  return await timed(async () => {
    const io = await dockerExec(docker, container, ['nc', '127.0.0.1', String(direction === 'download' ? SOURCE_PORT : SINK_PORT)], false)
    await transfer(direction, io.input, io.output).catch((err: Error) => { throw new Error(`through docker exec nc: ${err.message}`) })
  })
}

/** `floe shell REF -- COMMAND…` through the CLI; resolves on its exit 0. */
async function floeShell (home: string, ref: string, command: string[]): Promise<void> {
  const child = spawn(process.execPath, [FLOE_BIN, 'shell', ref, '--home', home, '--', ...command], { stdio: ['ignore', 'ignore', 'inherit'] })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`floe shell ${ref} -- ${command.join(' ')} exited ${String(code)}`)
}

type Figure = 'keystroke' | 'download' | 'upload'
/** Times in ms (each keystroke's, each transfer's), and the first failure of each figure. */
interface Measured { keystroke: number[], download: number[], upload: number[], errors: Partial<Record<Figure, string>> }
const measured = (): Measured => ({ keystroke: [], download: [], upload: [], errors: {} })

/** Runs one measurement into `m`; a failure is kept (and printed) rather than ending the run, so the other paths are still measured. */
async function attempt (m: Measured, figure: Figure, run: () => Promise<number | number[]>): Promise<void> {
  try {
    m[figure].push(...[await run()].flat())
  } catch (err: any) {
    m.errors[figure] ??= err?.message ?? String(err)
    console.error(`${figure} failed: ${err?.message ?? err}`)
  }
}

/** A workspace started from `home` (on `provider`, else its own), its servers, its port forwards, measured; stopped at the end. */
async function measureWorkspace (home: string, code: string, docker: Docker, provider: string | undefined, reference: Measured | undefined): Promise<Measured> {
  const started = await floeJson(['workspace', 'start', 'bench', '--path', code, '--home', home, ...(provider != null ? ['--provider', provider] : [])])
  const ref: string = started.ref
  try {
    for (let i = 0; ; i++) {
      const ws = (await floeJson(['workspace', 'ls', '--home', home])).workspaces.find((w: any) => w.ref === ref)
      if (ws?.state === 'running') break
      if (ws == null || ['failed', 'stopped', 'lost', 'timeout', 'success'].includes(ws.state) || i > 600) throw new Error(`workspace ${ref} is ${ws?.state ?? 'gone'}`)
      await sleep(100)
    }
    // servers that outlive the terminal that started them (setsid: a new session, no hangup)
    await floeShell(home, ref, ['sh', '-c', `(setsid nc -ll -p ${SOURCE_PORT} -e sh -c 'head -c ${size} /dev/zero' </dev/null >/dev/null 2>&1 &); (setsid nc -ll -p ${SINK_PORT} -e sh -c 'head -c ${size} | wc -c' </dev/null >/dev/null 2>&1 &); sleep 0.2`])
    const source = await floeJson(['workspace', 'port', ref, String(SOURCE_PORT), '--home', home])
    const sink = await floeJson(['workspace', 'port', ref, String(SINK_PORT), '--home', home])
    const container = await containerOf(docker, started.jobId)
    const result = measured()
    await attempt(result, 'keystroke', async () => await terminalEcho(home, ref))
    if (reference != null) await attempt(reference, 'keystroke', async () => await dockerEcho(docker, container))
    for (let i = 0; i < runs; i++) {
      await attempt(result, 'download', async () => await viaForward('download', source.local))
      await attempt(result, 'upload', async () => await viaForward('upload', sink.local))
      if (reference != null) {
        await attempt(reference, 'download', async () => await viaDockerExec(docker, container, 'download'))
        await attempt(reference, 'upload', async () => await viaDockerExec(docker, container, 'upload'))
      }
    }
    return result
  } finally {
    await floeJson(['workspace', 'stop', ref, '--home', home]).catch((err: Error) => { console.error(`could not stop workspace ${ref}: ${err.message}`) })
  }
}

async function main (): Promise<void> {
  const code = await mkdtemp(join(tmpdir(), 'floe-bench-ws-code-'))
  await writeFile(join(code, 'README'), 'a small code folder\n')
  const daemons: BenchDaemon[] = []
  let peer: ChildProcess | undefined
  let node: Libp2p | undefined
  try {
    // the raw baseline: this process and a child, one connection, one stream per measurement
    peer = spawn(process.execPath, [import.meta.filename, '--raw-peer', '--mib', String(values.mib)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const child = peer
    const addr = await new Promise<string>(resolve => child.stdout?.once('data', chunk => { resolve(String(chunk).trim()) }))
    node = await createLibp2p(stack)
    const raw = measured()
    await attempt(raw, 'keystroke', async () => await rawEcho(node as Libp2p, addr))
    for (let i = 0; i < runs; i++) {
      await attempt(raw, 'download', async () => await rawSource(node as Libp2p, addr))
      await attempt(raw, 'upload', async () => await rawSink(node as Libp2p, addr))
    }

    const provider = await startBenchDaemon(undefined, ['--provider'])
    daemons.push(provider)
    const client = await startBenchDaemon()
    daemons.push(client)
    const providerId = (await floeJson(['id', '--home', provider.home])).peerId
    await floeJson(['connect', (await floeJson(['id', '--home', provider.home])).addresses[0], '--home', client.home])
    while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await sleep(100)

    const docker = new Docker()
    const exec = measured()
    const local = await measureWorkspace(provider.home, code, docker, undefined, exec)
    const remote = await measureWorkspace(client.home, code, docker, providerId, undefined)

    const rate = (ms: number[]): number | null => ms.length === 0 ? null : mib(size) / (median(ms) / 1000)
    const row = (m: Measured): any => ({
      keystrokeMs: m.keystroke.length === 0 ? null : spread(m.keystroke),
      downloadMiBps: rate(m.download),
      uploadMiBps: rate(m.upload),
      ...(Object.keys(m.errors).length > 0 ? { errors: m.errors } : {})
    })
    const over = (a: number | null | undefined, b: number | null | undefined): number | null => a == null || b == null ? null : a / b
    const paths = { raw: row(raw), dockerExec: row(exec), local: row(local), remote: row(remote) }
    const ratios = (name: 'dockerExec' | 'local' | 'remote'): any => ({
      keystrokeP50: over(paths[name].keystrokeMs?.p50, paths.raw.keystrokeMs?.p50),
      keystrokeP95: over(paths[name].keystrokeMs?.p95, paths.raw.keystrokeMs?.p95),
      download: over(paths[name].downloadMiBps, paths.raw.downloadMiBps),
      upload: over(paths[name].uploadMiBps, paths.raw.uploadMiBps)
    })
    const result = { keys, mib: mib(size), runs, ...paths, ratioVsRaw: { dockerExec: ratios('dockerExec'), local: ratios('local'), remote: ratios('remote') } }
    if (values.json) console.log(JSON.stringify(result, null, 2))
    else {
      const fixed = (x: number | null | undefined, digits: number, unit = ''): string => x == null ? 'failed' : `${x.toFixed(digits)}${unit}`
      console.log(`keystroke round trip (${keys} single bytes, p50/p95), then ${mib(size)} MiB each way through a forwarded port (median of ${runs}); ratios against the raw libp2p stream`)
      for (const name of ['raw', 'dockerExec', 'local', 'remote'] as const) {
        const r = paths[name]
        const q = name === 'raw' ? undefined : result.ratioVsRaw[name]
        console.log(`  ${name.padEnd(10)} keystroke ${fixed(r.keystrokeMs?.p50, 2)} / ${fixed(r.keystrokeMs?.p95, 2)} ms${q != null ? ` (${fixed(q.keystrokeP50, 1, '×')} / ${fixed(q.keystrokeP95, 1, '×')})` : ''}` +
          `  download ${fixed(r.downloadMiBps, 0, ' MiB/s')}${q != null ? ` (${fixed(q.download, 2)})` : ''}  upload ${fixed(r.uploadMiBps, 0, ' MiB/s')}${q != null ? ` (${fixed(q.upload, 2)})` : ''}`)
        for (const [figure, message] of Object.entries(r.errors ?? {})) console.log(`    ${figure} failed: ${String(message)}`)
      }
    }
  } finally {
    await node?.stop()
    peer?.stdout?.destroy()
    peer?.kill()
    for (const daemon of daemons.reverse()) await daemon.stop()
    await rm(code, { recursive: true, force: true })
  }
}

if (values['raw-peer']) {
  // the raw side: echoes, sends --mib zeros, or counts what it is sent and answers the count
  const node = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, ...stack })
  await node.handle(ECHO, async stream => {
    for await (const chunk of stream) if (!stream.send(chunk)) await stream.onDrain()
    await stream.close()
  })
  await node.handle(SOURCE, async stream => {
    await pushZeros(size, chunk => stream.send(chunk), async () => { await stream.onDrain() })
    await stream.close()
  })
  await node.handle(SINK, async stream => {
    let count = 0
    for await (const chunk of stream) {
      count += chunk.byteLength
      if (count === size) {
        stream.send(new TextEncoder().encode(`${count}\n`))
        await stream.close()
      }
    }
  })
  console.log(node.getMultiaddrs()[0]?.toString())
} else {
  await main()
}
