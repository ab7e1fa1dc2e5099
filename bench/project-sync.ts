// The project log (issue 6), against baselines measured in the same run:
//   - append rate: `projectNote` through the HTTP API, one at a time and --in-flight at once,
//     beside a raw classic-level `put(…, { sync: true })` loop (the durable write each append
//     pays once);
//   - sync: for each size N, a project of N signed entries (genesis, two members, notes) made
//     here and imported on daemon A (the import/verify rate); a fresh daemon B connects to A
//     and pulls it on connect; timed from the connect until B's `projectShow` counts N
//     entries. Beside it, a random file of the same bytes (the sum of the entry blocks) on A,
//     fetched by a fresh daemon C with `data get --transport bulk`, timed from its connect.
// Everything goes through the API from this process (the CLI equivalents: floe project note,
// floe project import, floe connect, floe data upload, floe data get --transport bulk), so no
// CLI start-up is timed. Usage: node dist/bench/project-sync.js [--sizes 1000,10000,100000]
// [--appends 500] [--in-flight 8] [--json]
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ClassicLevel } from 'classic-level'
import type { CID } from 'multiformats/cid'
import { createApiClient, type ApiClient } from '../client/api-client.js'
import { signRecord } from '../daemon/p2p/signing.js'
import { writeCar } from '../daemon/store/car.js'
import { homePaths } from '../protocol/home.js'
import {
  encodeEntry, entryCid, entrySigningPayload, ENTRY_SIGNING_DOMAIN, type EntryBody, type EntryPayload, type EntryType
} from '../protocol/projects/entry.js'
import { startBenchDaemon, timed, type BenchDaemon } from './helpers.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    appends: { type: 'string', default: '500' },
    'in-flight': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false }
  }
})
const sizes = values.sizes.split(',').map(Number)
const appends = Number(values.appends)
const inFlight = Number(values['in-flight'])
if (sizes.some(n => !Number.isInteger(n) || n < 4) || !(appends > 0) || !(inFlight > 0)) throw new Error('--sizes takes integers of 4 or more, --appends and --in-flight positive numbers')
/** Poll interval of B's entry count while it syncs. */
const POLL_MS = 25
/** B's count standing still this long means its pull failed (nothing retries it). */
const STALL_MS = 60_000

function apiOf (daemon: BenchDaemon): ApiClient {
  const paths = homePaths(daemon.home)
  return createApiClient({ url: JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')).url, token: readFileSync(paths.apiToken, 'utf8').trim() })
}

// what to undo on the way out, failure or not
const daemons = new Set<BenchDaemon>()
const folders = new Set<string>()
async function daemon (): Promise<BenchDaemon> {
  const started = await startBenchDaemon()
  daemons.add(started)
  return started
}
async function stop (d: BenchDaemon): Promise<void> {
  daemons.delete(d)
  await d.stop()
}
async function folder (prefix: string, base = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(base, prefix))
  folders.add(dir)
  return dir
}
async function drop (dir: string): Promise<void> {
  folders.delete(dir)
  await rm(dir, { recursive: true, force: true })
}

// ---- append rate ---------------------------------------------------------------------------

async function appendRate (): Promise<{ rawSyncPut: number, sequential: number, concurrent: number }> {
  const d = await daemon()
  const api = apiOf(d)
  const text = (i: number): string => `append ${i} `.padEnd(100, 'x')
  try {
    const { project } = await api.call('projectInit', { name: 'append' })
    await api.call('projectNote', { project: project.id, text: text(-1) }) // warm-up
    const sequential = await timed(async () => {
      for (let i = 0; i < appends; i++) await api.call('projectNote', { project: project.id, text: text(i) })
    })
    let next = 0
    const concurrent = await timed(async () => {
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < appends) await api.call('projectNote', { project: project.id, text: text(appends + next++) })
      }))
    })
    const shown = await api.call('projectShow', { project: project.id })
    if (shown.entries !== 2 * appends + 2) throw new Error(`the log holds ${shown.entries} entries, ${2 * appends + 2} expected`)

    const dir = await folder('floe-bench-level-')
    const db = new ClassicLevel<string, string>(dir)
    await db.open()
    const value = 'v'.repeat(400)
    const rawSyncPut = await timed(async () => {
      for (let i = 0; i < appends; i++) await db.put(`k${String(i).padStart(12, '0')}`, value, { sync: true })
    })
    await db.close()
    await drop(dir)
    const rate = (ms: number): number => appends / (ms / 1000)
    return { rawSyncPut: rate(rawSyncPut), sequential: rate(sequential), concurrent: rate(concurrent) }
  } finally {
    await stop(d)
  }
}

// ---- sync ----------------------------------------------------------------------------------

/** A CAR of `n` entries written by `owner`: genesis, A and B added (slots 1, 2), then notes. */
async function projectCar (file: string, n: number, owner: PrivateKey, members: [string, string]): Promise<{ pid: string, bytes: number }> {
  const author = peerIdFromPrivateKey(owner).toString()
  let project: CID | null = null
  let last: { cid: CID, clock: number } | null = null
  const entry = async <T extends EntryType>(type: T, payload: EntryPayload<T>): Promise<{ cid: CID, bytes: Uint8Array }> => {
    const body: EntryBody = {
      v: 1, project, prev: last == null ? [] : [last.cid], clock: last == null ? 0 : last.clock + 1, author, at: Date.now(), type, payload: payload as Record<string, unknown>
    }
    const bytes = encodeEntry({ ...body, sig: await signRecord(owner, ENTRY_SIGNING_DOMAIN, entrySigningPayload(body)) })
    const cid = await entryCid(bytes)
    last = { cid, clock: body.clock }
    project ??= cid
    return { cid, bytes }
  }
  const written = await writeCar(file, [], (async function * () {
    yield await entry('project.created', { owner: 'bench', name: `sync-${n}` })
    yield await entry('member.added', { peer: members[0], slot: 1 })
    yield await entry('member.added', { peer: members[1], slot: 2 })
    for (let i = 3; i < n; i++) yield await entry('note', { text: `note ${i} `.padEnd(100, 'x') })
  })())
  if (written.blocks !== n) throw new Error(`wrote ${written.blocks} entries, ${n} expected`)
  return { pid: (project as CID | null)!.toString(), bytes: written.bytes }
}

interface SyncFigures {
  entries: number
  bytes: number
  /** import of the CAR on A (read, check each entry, index), through the API */
  importMs: number
  /** connect → B counts every entry */
  syncMs: number
  /** connect → B counts its first entries (dial, identify, list, the first chunk taken in) */
  firstMs: number
  /** what B held when its count stood still for STALL_MS (syncMs is then NaN); null when it got every entry */
  stalledAt: number | null
  /** connect + `data get --transport bulk` of the same bytes, on C */
  bulkMs: number
  /** the bulk fetch alone, as `data get` reports it */
  bulkFetchMs: number
}

/** B connects to A, which lists the project; B pulls it. Timed until B counts `n` entries. */
async function pullOnConnect (apiB: ApiClient, addrA: string, pid: string, n: number): Promise<{ syncMs: number, firstMs: number, stalledAt: number | null }> {
  let firstMs = NaN
  const t0 = performance.now()
  await apiB.call('connect', { addr: addrA })
  let held = 0
  let changed = t0
  while (held < n) {
    await sleep(POLL_MS)
    const now = await apiB.call('projectShow', { project: pid }).then(p => p.entries, (err: Error) => {
      if (err.name === 'ProjectNotFoundError') return 0
      throw err
    })
    if (now > 0 && Number.isNaN(firstMs)) firstMs = performance.now() - t0
    if (now !== held) changed = performance.now()
    held = now
    if (performance.now() - changed > STALL_MS) return { syncMs: NaN, firstMs, stalledAt: held }
  }
  return { syncMs: performance.now() - t0, firstMs, stalledAt: null }
}

async function syncOnce (n: number): Promise<SyncFigures> {
  const work = await folder('floe-bench-sync-')
  const a = await daemon()
  const b = await daemon()
  const apiA = apiOf(a)
  const apiB = apiOf(b)
  try {
    const [idA, idB] = await Promise.all([apiA.call('id', {}), apiB.call('id', {})])
    const owner = await generateKeyPair('Ed25519')
    const car = join(work, 'log.car')
    const { pid, bytes } = await projectCar(car, n, owner, [idA.peerId, idB.peerId])

    let imported: { added: number, refused: unknown[] } | undefined
    const importMs = await timed(async () => { imported = await apiA.call('projectImport', { file: car }) })
    if (imported?.added !== n || imported.refused.length > 0) throw new Error(`A took in ${imported?.added} of ${n} entries: ${JSON.stringify(imported?.refused.slice(0, 3))}`)

    const { syncMs, firstMs, stalledAt } = await pullOnConnect(apiB, idA.addresses[0] as string, pid, n)
    await stop(b)

    // the baseline: the same bytes as one random file, bulk from A to a fresh C
    const file = join(work, 'random.bin')
    await pipeline(async function * () { yield randomBytes(bytes) }, createWriteStream(file))
    const dataset = await apiA.call('datasetUpload', { path: file, name: `bulk-${n}` })
    const c = await daemon()
    const dest = await folder('floe-bench-', '/dev/shm')
    try {
      const apiC = apiOf(c)
      let bulkFetchMs = NaN
      const bulkMs = await timed(async () => {
        await apiC.call('connect', { addr: idA.addresses[0] as string })
        const got = await apiC.call('datasetGet', { ref: dataset.cid, dest: join(dest, 'out'), transport: 'bulk' })
        if (got.bytes !== bytes || got.via !== 'bulk') throw new Error(`unexpected result ${JSON.stringify(got)}`)
        bulkFetchMs = got.fetchMs ?? NaN
      })
      return { entries: n, bytes, importMs, syncMs, firstMs, stalledAt, bulkMs, bulkFetchMs }
    } finally {
      await stop(c)
      await drop(dest)
    }
  } finally {
    if (daemons.has(b)) await stop(b)
    await stop(a)
    await drop(work)
  }
}

// ---- run -----------------------------------------------------------------------------------

try {
  const append = await appendRate()
  const sync: SyncFigures[] = []
  for (const n of sizes) {
    sync.push(await syncOnce(n))
    if (!values.json) console.error(`  (${n} entries done)`)
  }
  const rows = sync.map(s => ({
    ...s,
    ratio: s.syncMs / s.bulkMs,
    entriesPerSecond: s.entries / (s.syncMs / 1000),
    importPerSecond: s.entries / (s.importMs / 1000),
    msPer1k: s.syncMs / (s.entries / 1000)
  }))
  const summary = {
    appendsPerSecond: { ...append, sequentialVsRaw: append.sequential / append.rawSyncPut, concurrentVsRaw: append.concurrent / append.rawSyncPut },
    appends,
    inFlight,
    sync: rows
  }
  if (rows.some(r => r.stalledAt != null)) process.exitCode = 1
  if (values.json) console.log(JSON.stringify(summary, null, 2))
  else {
    const f = (x: number, d = 0): string => x.toFixed(d)
    console.log(`append (${appends} notes through the API)`)
    console.log(`  raw classic-level put, sync   ${f(append.rawSyncPut)}/s`)
    console.log(`  projectNote, one at a time    ${f(append.sequential)}/s   ${f(summary.appendsPerSecond.sequentialVsRaw, 2)}× raw`)
    console.log(`  projectNote, ${inFlight} in flight      ${f(append.concurrent)}/s   ${f(summary.appendsPerSecond.concurrentVsRaw, 2)}× raw`)
    console.log('sync between two daemons on loopback (connect → B holds every entry)')
    for (const r of rows) {
      if (r.stalledAt != null) {
        console.log(`  ${String(r.entries).padStart(6)} entries ${f(r.bytes / 1024).padStart(6)} KiB  import ${f(r.importMs)} ms (${f(r.importPerSecond)}/s)  ` +
          `sync STALLED: B took in ${r.stalledAt} entries, then nothing for ${STALL_MS / 1000} s (its pull failed; nothing retries it)  bulk ${f(r.bulkMs)} ms`)
        continue
      }
      console.log(`  ${String(r.entries).padStart(6)} entries ${f(r.bytes / 1024).padStart(6)} KiB  import ${f(r.importMs)} ms (${f(r.importPerSecond)}/s)  ` +
        `sync ${f(r.syncMs)} ms (first ${f(r.firstMs)} ms, ${f(r.entriesPerSecond)}/s, ${f(r.msPer1k)} ms/1k)  ` +
        `bulk ${f(r.bulkMs)} ms (fetch ${f(r.bulkFetchMs)} ms)  sync/bulk ${f(r.ratio, 1)}×`)
    }
  }
} finally {
  for (const d of [...daemons]) await stop(d).catch((err: Error) => { console.error(`could not stop a daemon: ${err.message}`) })
  for (const dir of [...folders]) await drop(dir)
}
