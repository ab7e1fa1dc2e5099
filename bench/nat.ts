// NAT traversal in the network-namespace lab (test/helpers/nat-lab.ts): a relay and bootstrap
// node on the public host (6.0.0.1, `floe daemon --relay`), a client behind an
// endpoint-independent ('eim') NAT, and a provider behind a second NAT that is either 'eim'
// (hole punching can work) or 'symmetric' (it cannot). All in one lab, one relay; per try a
// fresh client and provider (new homes, new identities, a listen port no earlier try used),
// the two provider NAT kinds interleaved so machine noise hits both alike. Per try:
//   1. whether the client ends up directly connected to the provider: the client dials the
//      provider's relayed address (`floe connect`, its /ip4/6.0.0.1/… entry of
//      `floe id`'s relayedAddresses) and the client's peer list is polled for the provider's
//      `via` for up to 30 s;
//   2. connect → direct: from the connect call to the direct connection's own open time (the
//      daemon's `openedAt`, so the poll interval does not round it);
//   3. cold start → first job result: from spawning both daemons to
//      `floe run --json --follow --provider P -- echo hi` exiting with success (the client
//      waits for the provider's offer and for the connect above before it runs the job).
// Then, once per NAT kind, a dataset of --dataset-mib MiB uploaded on the client and mounted
// by a job on the provider (`wc -c /data/blob.bin`): the bytes the relay host's interface
// carried meanwhile (rx + tx: a byte relayed in full counts twice, in and out) as a share of
// the dataset, and the transfer rate (dataset / the receipt's preparingMs, the provider's
// input fetch). eim: the first job runs right after a cold connect; its baseline is a second
// job on a fresh dataset over the (by then surely direct) connection of the same pair.
// symmetric: the relay is restarted with `relay.unlimited: true` (content never crosses a
// limited relay), and the eim pair's direct second job is its baseline.
//
// The daemons' APIs listen on loopback inside their namespaces; this process polls them
// through a small forwarder per namespace (a Unix socket is not bound to a network
// namespace), so polling costs milliseconds and no CLI start-ups; `floe run` and
// `floe data upload` go through the real CLI. Needs root (ip netns, iptables).
// --connect-after relayed-address (default): the client connects as soon as the provider has a
// relayed address, as a user would (a connection made before the nodes know their mapped
// addresses is punched again once they do: daemon/p2p/direct-upgrader.ts); reachability: the
// connect waits until both nodes know their reachability (the punch can then start at once).
// Usage: node dist/bench/nat.js [--tries 20] [--dataset-mib 256] [--connect-after relayed-address|reachability] [--json]
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { createApiClient, type ApiClient, type ApiFetch } from '../client/api-client.js'
import { httpFetch } from '../client/node-fetch.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'
import { createNatLab, natLabAvailable, type NatKind, type NatLab } from '../test/helpers/nat-lab.js'
import { FLOE_BIN, mib } from './helpers.js'

const { values } = parseArgs({
  options: {
    tries: { type: 'string', default: '20' },
    'dataset-mib': { type: 'string', default: '256' },
    'connect-after': { type: 'string', default: 'relayed-address' },
    json: { type: 'boolean', default: false }
  }
})
const connectAfter = String(values['connect-after'])
if (connectAfter !== 'reachability' && connectAfter !== 'relayed-address') throw new Error('--connect-after is reachability or relayed-address')
const tries = Number(values.tries)
const datasetMib = Number(values['dataset-mib'])
if (!Number.isInteger(tries) || tries < 1) throw new Error('--tries must be a positive whole number')
if (!(datasetMib > 0)) throw new Error('--dataset-mib must be positive')
const datasetBytes = Math.round(datasetMib * 1024 * 1024)

const exec = promisify(execFile)
const RELAY_PORT = 4001
const DIRECT_WAIT_MS = 30_000
const NAT_KINDS: NatKind[] = ['eim', 'symmetric']
const progress = (line: string): void => { process.stderr.write(`[nat] ${line}\n`) }

// ---------------------------------------------------------------------------------------------
// what is started, for clean-up whatever happens

const children = new Set<ChildProcess>()
const folders = new Set<string>()
let lab: NatLab | undefined

function killAll (): void {
  for (const child of children) if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
}
// an interrupted run still leaves no daemon, namespace or home behind
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    lab?.remove()
    for (const folder of folders) { try { rmSync(folder, { recursive: true, force: true }) } catch {} }
    process.exit(130)
  })
}

// ---------------------------------------------------------------------------------------------
// the API of a daemon inside a namespace, through a forwarder in that namespace

/** Listens on the Unix socket argv[1]; each connection's first line is a loopback port to splice it to. */
const FORWARDER = `
const net = require('net'); const fs = require('fs'); const path = process.argv[1]
try { fs.unlinkSync(path) } catch {}
net.createServer(c => {
  let head = Buffer.alloc(0)
  c.on('error', () => {})
  const onData = d => {
    head = Buffer.concat([head, d]); const nl = head.indexOf(10); if (nl < 0) return
    c.removeListener('data', onData); c.pause()
    const s = net.connect(Number(head.subarray(0, nl).toString()), '127.0.0.1')
    const rest = head.subarray(nl + 1); if (rest.length > 0) s.write(rest)
    const end = () => { c.destroy(); s.destroy() }
    s.on('error', end); c.on('close', end); s.on('close', end)
    c.pipe(s); s.pipe(c)
  }
  c.on('data', onData)
}).listen(path, () => { process.stdout.write('ready\\n') })
`

const forwarders = new Map<string, string>() // namespace → socket path

async function forwarderFor (ns: string, dir: string): Promise<string> {
  const known = forwarders.get(ns)
  if (known != null) return known
  const path = join(dir, `${ns}.sock`)
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, '-e', FORWARDER, path], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => { resolve() })
    child.once('exit', code => { reject(new Error(`the API forwarder in ${ns} exited with ${String(code)}`)) })
  })
  forwarders.set(ns, path)
  return path
}

/** The API client's fetch over the forwarder: node:http on a socket spliced to the daemon's port. */
function fetchVia (socketPath: string, port: number): ApiFetch {
  return httpFetch({
    createConnection: () => {
      const socket = netConnect(socketPath)
      socket.write(`${port}\n`)
      return socket
    }
  })
}

// ---------------------------------------------------------------------------------------------
// daemons and the CLI inside namespaces

interface LabDaemon {
  ns: string
  home: string
  peerId: string
  api: ApiClient
  child: ChildProcess
  /** stderr so far (the daemon's JSON log lines) */
  output(): string
  kill(): Promise<void>
}

const daemonFlags = (port: number): string[] => ['--api', '127.0.0.1:0', '--listen', `/ip4/0.0.0.0/tcp/${port}`, '--no-mdns']

/** `floe daemon` on HOME in namespace NS; resolves once its API answers through the forwarder. */
async function startDaemon (ns: string, home: string, port: number, extra: string[], work: string): Promise<LabDaemon> {
  const paths = homePaths(home)
  const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, FLOE_BIN, 'daemon', '--home', home, ...daemonFlags(port), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  children.add(child)
  let stderr = ''
  child.stderr!.on('data', chunk => {
    stderr += chunk
    if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000)
  })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const kill = async (): Promise<void> => {
    if (child.exitCode == null && child.signalCode == null) {
      child.kill('SIGKILL')
      await exited
    }
    children.delete(child)
  }
  const socket = await forwarderFor(ns, work)
  const deadline = Date.now() + 60_000
  while (true) {
    if (child.exitCode != null || child.signalCode != null) throw new Error(`floe daemon in ${ns} exited (${String(child.exitCode ?? child.signalCode)}) before it was ready:\n${stderr.slice(-3000)}`)
    if (Date.now() > deadline) {
      await kill()
      throw new Error(`floe daemon in ${ns} did not publish its API within 60 s:\n${stderr.slice(-3000)}`)
    }
    if (existsSync(paths.apiEndpoint)) {
      try {
        const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
        if (endpoint.pid === child.pid) {
          const api = createApiClient({ url: endpoint.url, token: readFileSync(paths.apiToken, 'utf8').trim(), fetch: fetchVia(socket, Number(new URL(endpoint.url).port)) })
          const { peerId } = await api.call('id', {})
          return { ns, home, peerId, api, child, output: () => stderr, kill }
        }
      } catch {
        // half-written endpoint file, or the API not answering yet
      }
    }
    await sleep(50)
  }
}

interface CliResult { code: number | null, stdout: string, stderr: string }

/** `floe ARGS…` in namespace NS with `--home` (before a job's `-- COMMAND`). */
async function cli (d: LabDaemon, args: string[], timeoutMs = 300_000): Promise<CliResult> {
  const end = args.indexOf('--')
  const full = end < 0 ? [...args, '--home', d.home] : [...args.slice(0, end), '--home', d.home, ...args.slice(end)]
  const child = spawn('nsenter', [`--net=/run/netns/${d.ns}`, '--', process.execPath, FLOE_BIN, ...full], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', chunk => { stdout += chunk })
  child.stderr!.on('data', chunk => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  children.delete(child)
  return { code, stdout, stderr }
}

async function cliJson (d: LabDaemon, args: string[]): Promise<any> {
  const result = await cli(d, [...args, '--json'])
  if (result.code !== 0) throw new Error(`floe ${args.join(' ')} exited ${String(result.code)}: ${result.stderr.trim()} ${result.stdout.trim()}`.trim())
  return JSON.parse(result.stdout)
}

/** The daemon's warnings and errors (pino level ≥ 40), last few: what explains a failure. */
function complaints (d: LabDaemon | undefined, count = 12): string[] {
  if (d == null) return []
  const lines: string[] = []
  for (const line of d.output().split('\n')) {
    try {
      const entry = JSON.parse(line)
      if (typeof entry.level === 'number' && entry.level >= 40) lines.push(line.length > 600 ? `${line.slice(0, 600)}…` : line)
    } catch {
      if (line.trim() !== '') lines.push(line.slice(0, 600))
    }
  }
  return lines.slice(-count)
}

/** Kills a daemon and throws its home away (a provider's job containers and disks with it). */
async function dispose (d: LabDaemon | undefined): Promise<void> {
  if (d == null) return
  await d.kill()
  try {
    const { stdout } = await exec('docker', ['ps', '-aq', '--filter', `label=org.floe.provider=${d.peerId}`])
    const ids = stdout.split('\n').filter(id => id !== '')
    if (ids.length > 0) await exec('docker', ['rm', '-f', ...ids])
  } catch {}
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const prefix = `${d.home}/`
  const mounts = table.split('\n').map(line => line.split(' ')[4] ?? '').filter(point => point.startsWith(prefix)).sort().reverse()
  for (const point of mounts) await exec('umount', ['-l', point], { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` } }).catch(() => {})
  await rm(d.home, { recursive: true, force: true })
  folders.delete(d.home)
}

async function freshHome (): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'floe-bench-nat-'))
  folders.add(home)
  return home
}

/** Polls `probe` every `everyMs` until it returns something other than undefined, or throws at the deadline. */
async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const got = await probe().catch(() => undefined)
    if (got !== undefined) return got
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`)
    await sleep(everyMs)
  }
}

const relayedAddrOf = async (provider: LabDaemon): Promise<string> => await until('the provider\'s relayed address', 60_000, async () =>
  (await provider.api.call('id', {})).relayedAddresses.find(a => a.startsWith(`/ip4/${lab!.publicIp}/`)))

const offerSeen = async (client: LabDaemon, provider: LabDaemon): Promise<true> => await until('the provider\'s offer at the client', 60_000, async () =>
  (await client.api.call('providers', {})).providers.some(p => p.offer.peerId === provider.peerId) ? true : undefined, 200)

/** a node behind NAT confirms its mapped address (what DCUtR offers) when its reachability check answers */
const reachabilityKnown = async (d: LabDaemon): Promise<true> => await until('reachability', 60_000, async () =>
  (await d.api.call('id', {})).reachability.status !== 'unknown' ? true : undefined)

const viaTo = async (client: LabDaemon, peer: string): Promise<{ via: 'direct' | 'relayed', openedAt: string } | undefined> =>
  (await client.api.call('peers', {})).peers.find(p => p.peerId === peer)

// ---------------------------------------------------------------------------------------------
// the lab, the relay, the pairs

let nextPort = 4460
let relay: LabDaemon | undefined
let relayAddr = ''

async function startRelay (work: string, unlimited: boolean): Promise<void> {
  const home = relay?.home ?? await freshHome()
  if (relay != null) await relay.kill()
  writeFileSync(join(home, 'config.json'), JSON.stringify({ relay: unlimited ? { unlimited: true } : {} }))
  relay = await startDaemon(lab!.publicNs, home, RELAY_PORT, ['--relay'], work)
  relayAddr = `/ip4/${lab!.publicIp}/tcp/${RELAY_PORT}/p2p/${relay.peerId}`
  const info = await relay.api.call('id', {})
  if (info.relay.unlimited !== unlimited) throw new Error(`the relay says unlimited: ${String(info.relay.unlimited)}, asked ${String(unlimited)}`)
}

interface Pair { client: LabDaemon, provider: LabDaemon, startedAt: number }

/** A fresh client (home a, always eim) and provider (home b: eim, c: symmetric), started at once. */
async function startPair (kind: NatKind, work: string, holder: { pair?: Partial<Pair> }): Promise<Pair> {
  const port = nextPort++
  const [clientHome, providerHome] = [await freshHome(), await freshHome()]
  const startedAt = performance.now()
  const started = await Promise.allSettled([
    startDaemon(lab!.homes.a!.ns, clientHome, port, ['--bootstrap', relayAddr], work),
    startDaemon(lab!.homes[kind === 'eim' ? 'b' : 'c']!.ns, providerHome, port, ['--provider', '--bootstrap', relayAddr], work)
  ])
  const [c, p] = started
  holder.pair = { ...(c.status === 'fulfilled' ? { client: c.value } : {}), ...(p.status === 'fulfilled' ? { provider: p.value } : {}) }
  for (const s of started) if (s.status === 'rejected') throw s.reason
  if (c.status !== 'fulfilled' || p.status !== 'fulfilled') throw new Error('unreachable')
  return { client: c.value, provider: p.value, startedAt }
}

async function disposePair (holder: { pair?: Partial<Pair> }): Promise<void> {
  await Promise.all([dispose(holder.pair?.client), dispose(holder.pair?.provider)])
  holder.pair = undefined
}

interface TryResult {
  kind: NatKind
  try: number
  direct: boolean
  /** connect call → the direct connection's open time; null when none came within 30 s */
  connectToDirectMs: number | null
  /** daemons spawned → the provider's relayed address seen */
  relayedAddrMs: number
  /** daemons spawned → both client and provider know their reachability (--connect-after reachability) */
  reachabilityMs: number | null
  /** daemons spawned → `floe run … -- echo hi` exited with success; null when the job failed */
  firstJobMs: number | null
  jobError: string | null
  /** how the client reached the provider when the 30 s poll ended */
  viaAtEnd: string | null
}

interface Failure { phase: string, error: string, client: string[], provider: string[], relay: string[] }
const failures: Failure[] = []

function recordFailure (phase: string, err: any, pair: Partial<Pair> | undefined): void {
  const failure = { phase, error: String(err?.message ?? err), client: complaints(pair?.client), provider: complaints(pair?.provider), relay: complaints(relay, 6) }
  failures.push(failure)
  progress(`${phase} FAILED: ${failure.error}`)
  for (const [who, lines] of [['client', failure.client], ['provider', failure.provider], ['relay', failure.relay]] as const) {
    for (const line of lines) progress(`  ${who}: ${line}`)
  }
}

/** One try: a cold pair, connect through the relay, poll for the punch; a job from cold meanwhile. */
async function oneTry (kind: NatKind, i: number, work: string, code: string): Promise<TryResult> {
  const holder: { pair?: Partial<Pair> } = {}
  try {
    const { client, provider, startedAt } = await startPair(kind, work, holder)
    let relayedAddrMs = 0
    let reachabilityMs: number | null = null
    let signalConnected!: (ok: boolean) => void
    const connected = new Promise<boolean>(resolve => { signalConnected = resolve })

    const punch = (async () => {
      try {
        const addr = await relayedAddrOf(provider)
        relayedAddrMs = performance.now() - startedAt
        if (connectAfter === 'reachability') {
          await Promise.all([client, provider].map(async d => await reachabilityKnown(d)))
          reachabilityMs = performance.now() - startedAt
        }
        const connectWall = Date.now()
        await client.api.call('connect', { addr })
        signalConnected(true)
        let last: { via: string, openedAt: string } | undefined
        while (Date.now() - connectWall < DIRECT_WAIT_MS) {
          last = await viaTo(client, provider.peerId)
          if (last?.via === 'direct') return { direct: true, ms: Math.max(0, Date.parse(last.openedAt) - connectWall), via: last.via }
          await sleep(100)
        }
        return { direct: false, ms: null, via: last?.via ?? null }
      } finally {
        signalConnected(false)
      }
    })()
    // a job needs the offer; it runs once the connect above is made (so that connect is the first)
    const job = (async () => {
      await offerSeen(client, provider)
      if (!await connected) throw new Error('no connect to run the job after')
      const run = await cli(client, ['run', '--path', code, '--json', '--follow', '--provider', provider.peerId, '--', 'echo', 'hi'])
      const ended = performance.now()
      let view: any
      try { view = JSON.parse(run.stdout) } catch {}
      if (run.code !== 0 || view?.state !== 'success') throw new Error(`floe run exited ${String(run.code)}, job ${String(view?.state)}: ${String(view?.reason ?? run.stderr.trim())}`)
      return ended - startedAt
    })()
    const [pOutcome, jobOutcome] = await Promise.allSettled([punch, job])
    if (pOutcome.status === 'rejected') throw pOutcome.reason
    const p = pOutcome.value
    // a failed job is reported, and the try's punch still counts
    if (jobOutcome.status === 'rejected') recordFailure(`${kind} try ${i} (job)`, jobOutcome.reason, holder.pair)
    const firstJobMs = jobOutcome.status === 'fulfilled' ? jobOutcome.value : null
    return { kind, try: i, direct: p.direct, connectToDirectMs: p.ms, relayedAddrMs, reachabilityMs, firstJobMs, jobError: jobOutcome.status === 'rejected' ? String(jobOutcome.reason?.message ?? jobOutcome.reason) : null, viaAtEnd: p.via }
  } catch (err) {
    recordFailure(`${kind} try ${i}`, err, holder.pair)
    throw err
  } finally {
    await disposePair(holder)
  }
}

interface DatasetJob {
  /** how the client reached the provider just before the job, and just after */
  viaBefore: string | null
  via: string | null
  /** bytes through the relay host's br0 (rx + tx) while the job ran */
  relayHostBytes: number
  relayHostShare: number
  preparingMs: number
  mibPerSecond: number
  /** preparingMs of a job without a dataset on the same pair, and the rate with it taken off */
  preparingWithoutDataMs?: number
  netMibPerSecond?: number
  jobMs: number
}

async function writeDataset (dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  await pipeline(async function * () {
    for (let left = datasetBytes; left > 0; left -= 16 * 1024 * 1024) yield randomBytes(Math.min(left, 16 * 1024 * 1024))
  }, createWriteStream(join(dir, 'blob.bin')))
  return dir
}

async function datasetJob (pair: Pair, name: string, code: string): Promise<DatasetJob> {
  const viaBefore = (await viaTo(pair.client, pair.provider.peerId))?.via ?? null
  const before = lab!.publicHostBytes()
  const t0 = performance.now()
  const run = await cli(pair.client, ['run', '--path', code, '--json', '--follow', '--provider', pair.provider.peerId, '--data', `${name}:/data`, '--', 'sh', '-c', 'wc -c /data/blob.bin'])
  const jobMs = performance.now() - t0
  const relayHostBytes = lab!.publicHostBytes() - before
  let view: any
  try { view = JSON.parse(run.stdout) } catch {}
  if (run.code !== 0 || view?.state !== 'success') throw new Error(`dataset job exited ${String(run.code)}, job ${String(view?.state)}: ${String(view?.reason ?? run.stderr.trim())}`)
  const logs = await cli(pair.client, ['logs', view.ref])
  if (!logs.stdout.includes(String(datasetBytes))) throw new Error(`the job's log does not show ${datasetBytes} bytes: ${logs.stdout.trim()}`)
  const preparingMs = Number(view.receipt?.preparingMs)
  return {
    viaBefore,
    via: (await viaTo(pair.client, pair.provider.peerId))?.via ?? null,
    relayHostBytes,
    relayHostShare: relayHostBytes / datasetBytes,
    preparingMs,
    mibPerSecond: mib(datasetBytes) / (preparingMs / 1000),
    jobMs
  }
}

/** A cold pair; both datasets uploaded on the client before the connect; then the jobs, in order. */
async function datasetRun (kind: NatKind, work: string, code: string, datasets: Array<{ name: string, dir: string }>): Promise<DatasetJob[]> {
  const holder: { pair?: Partial<Pair> } = {}
  try {
    const pair = await startPair(kind, work, holder)
    for (const d of datasets) await cliJson(pair.client, ['data', 'upload', d.dir, '--name', d.name])
    const addr = await relayedAddrOf(pair.provider)
    if (connectAfter === 'reachability') await Promise.all([pair.client, pair.provider].map(async d => await reachabilityKnown(d)))
    await pair.client.api.call('connect', { addr })
    await offerSeen(pair.client, pair.provider)
    const jobs: DatasetJob[] = []
    for (const d of datasets) {
      jobs.push(await datasetJob(pair, d.name, code))
      progress(`${kind} dataset ${d.name}: via ${String(jobs.at(-1)!.viaBefore)} → ${String(jobs.at(-1)!.via)}, ${jobs.at(-1)!.relayHostBytes} B through the relay host, preparing ${jobs.at(-1)!.preparingMs} ms, ${jobs.at(-1)!.mibPerSecond.toFixed(1)} MiB/s`)
    }
    // the same job without a dataset on the same pair: what preparing costs besides the fetch
    const bare = await cli(pair.client, ['run', '--path', code, '--json', '--follow', '--provider', pair.provider.peerId, '--', 'sh', '-c', 'true'])
    let bareView: any
    try { bareView = JSON.parse(bare.stdout) } catch {}
    const overhead = Number(bareView?.receipt?.preparingMs)
    if (bare.code === 0 && Number.isFinite(overhead)) {
      for (const j of jobs) Object.assign(j, { preparingWithoutDataMs: overhead, netMibPerSecond: mib(datasetBytes) / (Math.max(1, j.preparingMs - overhead) / 1000) })
      progress(`${kind}: a job without a dataset spends ${overhead} ms preparing`)
    }
    return jobs
  } catch (err) {
    recordFailure(`${kind} dataset`, err, holder.pair)
    throw err
  } finally {
    await disposePair(holder)
  }
}

// ---------------------------------------------------------------------------------------------

const median = (xs: number[]): number | null => xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const p90 = (xs: number[]): number | null => xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.ceil(0.9 * xs.length) - 1]!

if (!natLabAvailable()) throw new Error('the NAT lab needs root, ip netns and iptables with conntrack')
const work = await mkdtemp(join(tmpdir(), 'floe-bench-nat-work-'))
folders.add(work)
const results: TryResult[] = []
const dataset: { eim?: { cold: DatasetJob, baseline: DatasetJob }, symmetric?: DatasetJob } = {}
const startedAll = performance.now()
try {
  lab = createNatLab({ homes: [{ name: 'a', nat: 'eim' }, { name: 'b', nat: 'eim' }, { name: 'c', nat: 'symmetric' }] })
  const code = join(work, 'code')
  await mkdir(code)
  writeFileSync(join(code, 'train.sh'), 'echo hi\n')
  await startRelay(work, false)
  progress(`lab ${lab.prefix}: relay ${relayAddr}; client home a (eim), provider homes b (eim), c (symmetric)`)

  for (let i = 1; i <= tries; i++) {
    for (const kind of i % 2 === 1 ? NAT_KINDS : [...NAT_KINDS].reverse()) {
      try {
        const r = await oneTry(kind, i, work, code)
        results.push(r)
        progress(`${kind} try ${i}/${tries}: ${r.direct ? `direct after ${r.connectToDirectMs} ms` : `no direct connection in 30 s (via ${String(r.viaAtEnd)})`}; relayed address at ${(r.relayedAddrMs / 1000).toFixed(1)} s${r.reachabilityMs == null ? '' : `, reachability known at ${(r.reachabilityMs / 1000).toFixed(1)} s`}; first job result ${r.firstJobMs == null ? 'FAILED' : `at ${(r.firstJobMs / 1000).toFixed(1)} s`}`)
      } catch {
        // recorded in failures
      }
    }
  }

  progress(`datasets: writing 3 × ${datasetMib} MiB`)
  const d1 = await writeDataset(join(work, 'd1'))
  const d2 = await writeDataset(join(work, 'd2'))
  const d3 = await writeDataset(join(work, 'd3'))
  try {
    const [cold, baseline] = await datasetRun('eim', work, code, [{ name: 'cold', dir: d1 }, { name: 'fresh', dir: d2 }])
    dataset.eim = { cold: cold!, baseline: baseline! }
  } catch {}
  await rm(d1, { recursive: true, force: true })
  await rm(d2, { recursive: true, force: true })
  progress('restarting the relay with relay.unlimited: true for the symmetric dataset')
  await startRelay(work, true)
  try {
    dataset.symmetric = (await datasetRun('symmetric', work, code, [{ name: 'relayed', dir: d3 }]))[0]
  } catch {}
} finally {
  await Promise.allSettled([dispose(relay)])
  killAll()
  lab?.remove()
  for (const folder of folders) await rm(folder, { recursive: true, force: true }).catch(() => {})
}

const byKind = Object.fromEntries(NAT_KINDS.map(kind => {
  const rs = results.filter(r => r.kind === kind)
  const punched = rs.filter(r => r.direct).map(r => r.connectToDirectMs!)
  const jobs = rs.flatMap(r => r.firstJobMs == null ? [] : [r.firstJobMs])
  return [kind, {
    tries,
    completed: rs.length,
    direct: punched.length,
    directShare: rs.length === 0 ? null : punched.length / rs.length,
    connectToDirectMs: { median: median(punched), p90: p90(punched) },
    firstJobMs: { median: median(jobs), p90: p90(jobs) },
    jobsFailed: rs.length - jobs.length,
    relayedAddrMs: { median: median(rs.map(r => r.relayedAddrMs)) },
    reachabilityMs: { median: median(rs.flatMap(r => r.reachabilityMs == null ? [] : [r.reachabilityMs])) }
  }]
})) as Record<NatKind, { tries: number, completed: number, direct: number, directShare: number | null, connectToDirectMs: { median: number | null, p90: number | null }, firstJobMs: { median: number | null, p90: number | null }, jobsFailed: number, relayedAddrMs: { median: number | null }, reachabilityMs: { median: number | null } }>

const summary = {
  tries,
  datasetMib,
  connectAfter,
  seconds: (performance.now() - startedAll) / 1000,
  byProviderNat: byKind,
  dataset: {
    eim: dataset.eim == null
      ? null
      : { ...dataset.eim, coldVsBaseline: dataset.eim.cold.mibPerSecond / dataset.eim.baseline.mibPerSecond, relay: 'limited (default)' },
    symmetric: dataset.symmetric == null
      ? null
      : { ...dataset.symmetric, vsEimDirect: dataset.eim == null ? null : dataset.symmetric.mibPerSecond / dataset.eim.baseline.mibPerSecond, relay: 'restarted with relay.unlimited: true (a limited relay carries no content)' }
  },
  tryResults: results,
  failures
}

const s = (ms: number | null): string => ms == null ? '-' : `${(ms / 1000).toFixed(2)} s`
const pct = (x: number | null): string => x == null ? '-' : `${(x * 100).toFixed(x < 0.1 ? 2 : 0)}%`
if (values.json) console.log(JSON.stringify(summary, null, 2))
else {
  console.log(`NAT traversal: client behind eim NAT, provider behind eim or symmetric NAT, relay on ${lab?.publicIp ?? '6.0.0.1'}; ${tries} tries each, fresh daemons per try, connect after ${connectAfter === 'reachability' ? 'both nodes know their reachability' : 'the provider has a relayed address'} (${summary.seconds.toFixed(0)} s in all)`)
  console.log('provider NAT  direct          connect→direct median / p90   cold start→first job median / p90 (failed)')
  for (const kind of NAT_KINDS) {
    const k = byKind[kind]
    console.log(`${kind.padEnd(13)} ${`${k.direct}/${k.completed} ${pct(k.directShare)}`.padEnd(15)} ${`${s(k.connectToDirectMs.median)} / ${s(k.connectToDirectMs.p90)}`.padEnd(29)} ${s(k.firstJobMs.median)} / ${s(k.firstJobMs.p90)} (${k.jobsFailed} failed)`)
  }
  console.log(`dataset ${datasetMib} MiB, client → provider (job mounting it; relay host bytes = rx + tx of its interface, so a fully relayed byte counts twice):`)
  const row = (label: string, j: DatasetJob | undefined, extra: string): void => {
    if (j == null) { console.log(`  ${label.padEnd(42)} FAILED (see below)`); return }
    console.log(`  ${label.padEnd(42)} via ${`${String(j.viaBefore)}→${String(j.via)}`.padEnd(16)} relay host ${(j.relayHostBytes / 1024).toFixed(0).padStart(8)} KiB = ${pct(j.relayHostShare).padStart(6)} of the dataset   preparing ${j.preparingMs} ms = ${j.mibPerSecond.toFixed(1)} MiB/s (less ${j.preparingWithoutDataMs ?? '?'} ms without data: ${j.netMibPerSecond?.toFixed(1) ?? '?'} MiB/s)${extra}`)
  }
  const e = summary.dataset.eim
  row('eim, first job after a cold connect', dataset.eim?.cold, e == null ? '' : `  (${e.coldVsBaseline.toFixed(2)}× the baseline)`)
  row('eim, fresh dataset, same pair (baseline)', dataset.eim?.baseline, '')
  row('symmetric, relay with unlimited: true', dataset.symmetric, summary.dataset.symmetric?.vsEimDirect == null ? '' : `  (${summary.dataset.symmetric.vsEimDirect.toFixed(2)}× the eim direct baseline)`)
  if (failures.length > 0) {
    console.log(`failures (${failures.length}):`)
    for (const f of failures) {
      console.log(`  ${f.phase}: ${f.error}`)
      for (const [who, lines] of [['client', f.client], ['provider', f.provider], ['relay', f.relay]] as const) for (const line of lines) console.log(`    ${who}: ${line}`)
    }
  }
}
