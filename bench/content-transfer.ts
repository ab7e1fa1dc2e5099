// One large random dataset between two daemons on loopback, three ways, in the same run:
//   - `floe data get --transport bulk`   (/floe/dag/1.0.0; its fetch alone is timed too),
//   - `floe data get --transport bitswap`,
//   - one raw libp2p stream (TCP + noise + yamux, the same stack) carrying the same bytes
//     from another process: the encrypted link's ceiling.
// Each `data get` starts from a fresh home holding nothing, and writes to /dev/shm so the
// destination disk does not dominate. Usage: node dist/bench/content-transfer.js [--mib N] [--json]
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { floeJson, mib, startBenchDaemon, timed } from './helpers.js'

/** What bench/raw-stream-peer.ts serves; given to it on its command line. */
const RAW_PROTOCOL = '/floe-bench/raw/1.0.0'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' }, json: { type: 'boolean', default: false } } })
const size = Number(values.mib) * 1024 * 1024

const work = await mkdtemp(join(tmpdir(), 'floe-bench-transfer-'))
const file = join(work, 'random.bin')
await pipeline(async function * () {
  for (let left = size; left > 0; left -= 16 * 1024 * 1024) yield randomBytes(Math.min(left, 16 * 1024 * 1024))
}, createWriteStream(file))

const holder = await startBenchDaemon()
const dataset = await floeJson(['data', 'upload', file, '--name', 'bench', '--home', holder.home])
const holderAddr = (await floeJson(['id', '--home', holder.home])).addresses[0]

/** Milliseconds of the whole `data get`, and of its bulk fetch alone (before writing DEST). */
async function viaDataGet (transport: 'bulk' | 'bitswap'): Promise<{ total: number, fetch: number | null }> {
  const fetcher = await startBenchDaemon()
  const dest = await mkdtemp('/dev/shm/floe-bench-')
  try {
    await floeJson(['connect', holderAddr, '--home', fetcher.home])
    let fetch: number | null = null
    const total = await timed(async () => {
      const got = await floeJson(['data', 'get', dataset.cid, join(dest, 'out'), '--transport', transport, '--home', fetcher.home])
      if (got.bytes !== size || got.via !== transport) throw new Error(`unexpected result ${JSON.stringify(got)}`)
      fetch = got.fetchMs
    })
    return { total, fetch }
  } finally {
    await fetcher.stop()
    await rm(dest, { recursive: true, force: true })
  }
}

async function viaRawStream (): Promise<number> {
  const peer = spawn(process.execPath, [resolve(import.meta.dirname, 'raw-stream-peer.js'), file, RAW_PROTOCOL], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise<string>(resolve => peer.stdout.once('data', chunk => resolve(String(chunk).trim())))
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  try {
    return await timed(async () => {
      const stream = await node.dialProtocol(multiaddr(addr), RAW_PROTOCOL)
      let received = 0
      for await (const chunk of stream) received += chunk.byteLength
      if (received !== size) throw new Error(`raw stream carried ${received} of ${size} bytes`)
    })
  } finally {
    await node.stop()
    peer.stdout.destroy()
    peer.kill()
  }
}

const raw = await viaRawStream()
const bulk = await viaDataGet('bulk')
const bitswap = await viaDataGet('bitswap')
const ms = { raw, bulkFetch: bulk.fetch ?? NaN, bulk: bulk.total, bitswap: bitswap.total }
await holder.stop()
await rm(work, { recursive: true, force: true })

const rate = (t: number): number => mib(size) / (t / 1000)
const summary = {
  mib: mib(size),
  ms,
  mibPerSecond: { raw: rate(ms.raw), bulkFetch: rate(ms.bulkFetch), bulk: rate(ms.bulk), bitswap: rate(ms.bitswap) },
  ratio: { bulkFetchVsRaw: ms.raw / ms.bulkFetch, bulkVsBitswap: ms.bitswap / ms.bulk }
}
if (values.json) console.log(JSON.stringify(summary, null, 2))
else {
  console.log(`${mib(size)} MiB between two daemons on loopback`)
  console.log(`  raw libp2p stream   ${ms.raw.toFixed(0)} ms  ${summary.mibPerSecond.raw.toFixed(0)} MiB/s`)
  console.log(`  bulk fetch alone    ${ms.bulkFetch.toFixed(0)} ms  ${summary.mibPerSecond.bulkFetch.toFixed(0)} MiB/s   bulk/raw ${summary.ratio.bulkFetchVsRaw.toFixed(2)}`)
  console.log(`  data get (bulk)     ${ms.bulk.toFixed(0)} ms  ${summary.mibPerSecond.bulk.toFixed(0)} MiB/s   (fetch, then write DEST)`)
  console.log(`  data get (bitswap)  ${ms.bitswap.toFixed(0)} ms  ${summary.mibPerSecond.bitswap.toFixed(0)} MiB/s   bulk/bitswap ${summary.ratio.bulkVsBitswap.toFixed(2)}×`)
}
