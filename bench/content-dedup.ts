// What a new version of a large dataset costs, stored and transferred, when little changed:
//   - fixed 1 MiB chunks, 1% of the bytes changed in place (ten 0.1% runs spread through the file),
//   - rabin (content-defined) chunks, 1 KiB inserted in the middle.
// Stored = growth of the holder's block store; transferred = bytes the bulk protocol sent to
// a peer that already held the previous version. Both as a fraction of the dataset's size.
// Usage: node dist/bench/content-dedup.js [--mib N] [--json]
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { floeJson, mib, startBenchDaemon } from './helpers.js'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' }, json: { type: 'boolean', default: false } } })
const size = Number(values.mib) * 1024 * 1024
const work = await mkdtemp(join(tmpdir(), 'floe-bench-dedup-'))

async function writeRandom (path: string): Promise<void> {
  await pipeline(async function * () {
    for (let left = size; left > 0; left -= 16 * 1024 * 1024) yield randomBytes(Math.min(left, 16 * 1024 * 1024))
  }, createWriteStream(path))
}

/** Copies `from` to `to`, passing each chunk (and its offset) through `edit`. */
async function rewrite (from: string, to: string, edit: (chunk: Buffer, offset: number) => Buffer): Promise<void> {
  let offset = 0
  await pipeline(createReadStream(from, { highWaterMark: 1024 * 1024 }), async function * (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      yield edit(chunk, offset)
      offset += chunk.length
    }
  }, createWriteStream(to))
}

const holder = await startBenchDaemon()
const fetcher = await startBenchDaemon()
await floeJson(['connect', (await floeJson(['id', '--home', holder.home])).addresses[0], '--home', fetcher.home])
const storedBytes = async (): Promise<number> => (await floeJson(['repo', 'stat', '--home', holder.home])).bytes

async function measure (name: string, chunker: 'fixed' | 'rabin', change: (v1: string, v2: string) => Promise<void>): Promise<{ stored: number, transferred: number }> {
  const v1 = join(work, `${name}-v1.bin`)
  const v2 = join(work, `${name}-v2.bin`)
  await writeRandom(v1)
  await change(v1, v2)
  const first = await floeJson(['data', 'upload', v1, '--name', name, '--chunker', chunker, '--home', holder.home])
  await floeJson(['data', 'get', first.cid, join(work, `${name}-got-v1`), '--transport', 'bulk', '--home', fetcher.home])
  const before = await storedBytes()
  const second = await floeJson(['data', 'upload', v2, '--name', name, '--chunker', chunker, '--home', holder.home])
  const stored = await storedBytes() - before
  const got = await floeJson(['data', 'get', second.cid, join(work, `${name}-got-v2`), '--transport', 'bulk', '--home', fetcher.home])
  return { stored, transferred: got.fetchedBytes }
}

const runs = Math.max(1, Math.round(size / 100))
const runBytes = Math.floor(size / 100 / 10)
const inPlace = await measure('inplace', 'fixed', async (v1, v2) => {
  // ten runs of 0.1% each, spread evenly: 1% of the bytes in all
  await rewrite(v1, v2, (chunk, offset) => {
    for (let r = 0; r < 10; r++) {
      const start = Math.floor((r + 0.5) * size / 10)
      for (let i = Math.max(start, offset); i < Math.min(start + runBytes, offset + chunk.length); i++) chunk[i - offset] = (chunk[i - offset] ?? 0) ^ 0xff
    }
    return chunk
  })
})
const inserted = await measure('insert', 'rabin', async (v1, v2) => {
  const middle = Math.floor(size / 2)
  await rewrite(v1, v2, (chunk, offset) => {
    if (middle < offset || middle >= offset + chunk.length) return chunk
    const at = middle - offset
    return Buffer.concat([chunk.subarray(0, at), randomBytes(1024), chunk.subarray(at)])
  })
})

await holder.stop()
await fetcher.stop()
await rm(work, { recursive: true, force: true })

const summary = {
  mib: mib(size),
  inPlace1Percent: { storedBytes: inPlace.stored, transferredBytes: inPlace.transferred, storedFraction: inPlace.stored / size, transferredFraction: inPlace.transferred / size },
  insert1KiBRabin: { storedBytes: inserted.stored, transferredBytes: inserted.transferred, storedFraction: inserted.stored / size, transferredFraction: inserted.transferred / size },
  changedRuns: runs > 0 ? 10 : 0
}
if (values.json) console.log(JSON.stringify(summary, null, 2))
else {
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`
  console.log(`new version of a ${mib(size)} MiB dataset: new bytes stored / transferred, as a share of its size`)
  console.log(`  1% changed in place (fixed)    stored ${pct(summary.inPlace1Percent.storedFraction)}   transferred ${pct(summary.inPlace1Percent.transferredFraction)}`)
  console.log(`  1 KiB inserted (rabin)         stored ${pct(summary.insert1KiBRabin.storedFraction)}   transferred ${pct(summary.insert1KiBRabin.transferredFraction)}`)
}
