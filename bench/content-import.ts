// Import of one large random file, durable when the command returns, against the floors
// measured in the same run:
//   - `cp` of the same file followed by `sync` on the same disk (the durable-write floor),
//   - SHA-256 of the same bytes in Node (the hashing floor).
// The import is `floe data upload` through a running daemon (it syncs before it answers).
// Usage: node dist/bench/content-import.js [--mib N] [--runs R] [--json]
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { floeJson, mib, startBenchDaemon, timed } from './helpers.js'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } })
const size = Number(values.mib) * 1024 * 1024
const runs = Number(values.runs)

// On the same disk as the daemon's home.
const work = await mkdtemp(join(tmpdir(), 'floe-bench-import-'))
const file = join(work, 'random.bin')
await pipeline(async function * () {
  for (let left = size; left > 0; left -= 16 * 1024 * 1024) yield randomBytes(Math.min(left, 16 * 1024 * 1024))
}, createWriteStream(file))
execFileSync('sync')

const daemon = await startBenchDaemon()
const results = { cpSync: [] as number[], sha256: [] as number[], import: [] as number[] }
let cid = ''
for (let run = 0; run < runs; run++) {
  // Each measure reads the file from the page cache, as the others do.
  results.cpSync.push(await timed(async () => { execFileSync('sh', ['-c', `cp "${file}" "${file}.copy" && sync`]) }))
  await rm(`${file}.copy`)
  results.sha256.push(await timed(async () => {
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk)
    hash.digest()
  }))
  results.import.push(await timed(async () => {
    cid = (await floeJson(['data', 'upload', file, '--name', `bench-${run}`, '--home', daemon.home])).cid
  }))
  // Start the next run from an empty block store, so nothing is deduplicated.
  await floeJson(['data', 'rm', `bench-${run}`, '--home', daemon.home])
  await floeJson(['gc', '--home', daemon.home])
}
await daemon.stop()
await rm(work, { recursive: true, force: true })

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const summary = {
  mib: mib(size),
  runs,
  cid,
  medianMs: { import: median(results.import), cpSync: median(results.cpSync), sha256: median(results.sha256) },
  ratio: { importVsCpSync: median(results.import) / median(results.cpSync), importVsSha256: median(results.import) / median(results.sha256) },
  runsMs: results
}
if (values.json) console.log(JSON.stringify(summary, null, 2))
else {
  const rate = (ms: number): string => `${(mib(size) / (ms / 1000)).toFixed(0)} MiB/s`
  console.log(`import of ${mib(size)} MiB (median of ${runs}), durable on return`)
  console.log(`  floe data upload  ${summary.medianMs.import.toFixed(0)} ms  ${rate(summary.medianMs.import)}`)
  console.log(`  cp + sync         ${summary.medianMs.cpSync.toFixed(0)} ms  ${rate(summary.medianMs.cpSync)}   import/cp+sync ${summary.ratio.importVsCpSync.toFixed(2)}×`)
  console.log(`  sha-256 in node   ${summary.medianMs.sha256.toFixed(0)} ms  ${rate(summary.medianMs.sha256)}   import/sha256 ${summary.ratio.importVsSha256.toFixed(2)}×`)
}
