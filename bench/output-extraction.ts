// What it costs to take a job's /output out once the job has stopped, three ways, on the same
// data in one run: (a) floe's import as it is now (`importPath` walking the job disk as one
// file system, each file opened O_NOFOLLOW and checked to be the inode listed); (b) the
// baseline, the import before hardening (a plain walk, `createReadStream` on each path);
// (c) Docker's archive API (`GET /containers/ID/archive?path=/output` on the stopped
// container, the tar's members fed to the same importer). A control, (b1), is (b) one file at
// a time, which is what a tar stream imposes on (c). The data: a real job disk
// (`createJobDisk`, loop-mounted ext4) whose output holds N files of 16 MiB of random bytes
// plus a few small files, a folder, an empty folder and a symbolic link, owned by the job's
// user; the container is floe's own (`createJobContainer`), started once (`true`) and
// stopped. Each variant imports into a fresh block store on disk like the daemon's
// (`openStores`), timed until the root CID is known; the store is then synced and removed
// untimed, so every variant and run writes the same blocks from nothing. Variants take turns
// (the order rotates each run); medians of --runs. Needs root (mount) and Docker.
// Usage: node dist/bench/output-extraction.js [--runs 3] [--size-mib 1024] [--json]
import { execFile } from 'node:child_process'
import { randomFill } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lchown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs, promisify } from 'node:util'
import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { extract, type Header } from 'tar-stream'
import { importPath } from '../daemon/content/import.js'
import { walkTree } from '../daemon/content/walk.js'
import { memberPath } from '../daemon/environments/image-tar.js'
import { createJobContainer, removeJobContainer } from '../daemon/provider/executor.js'
import { createJobDisk, JOB_OWNER, removeJobDisk, type JobDisk } from '../daemon/provider/job-disk.js'
import { openStores, syncBlocks } from '../daemon/store/stores.js'
import { mib, timed } from './helpers.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false }
  }
})
const runs = Number(values.runs)
const sizeMiB = Number(values['size-mib'])
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a whole number ≥ 1')
if (!Number.isSafeInteger(sizeMiB) || sizeMiB < 1) throw new Error('--size-mib must be a whole number ≥ 1')
if (process.getuid?.() !== 0) {
  console.error('output-extraction: job disks are loop mounts; run it as root')
  process.exit(1)
}

const exec = promisify(execFile)
const MiB = 1024 * 1024
const FILE_BYTES = 16 * MiB
/** the provider's output budget at its default size; twice the data when that is larger */
const BUDGET = { maxBytes: Math.max(2 * 1024 * MiB, 2 * sizeMiB * MiB), maxEntries: 1_000_000 }
/** floe's default layout (import.ts): CIDv1, raw leaves, 1 MiB chunks */
const PROFILE = 'unixfs-v1-2025'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

/** The job's output: ⌊size / 16 MiB⌋ random files of 16 MiB (and the rest in one), plus what jobs leave beside checkpoints. */
async function fillOutput (output: string): Promise<{ bytes: number, files: number }> {
  const sizes = Array.from({ length: Math.floor(sizeMiB * MiB / FILE_BYTES) }, () => FILE_BYTES)
  if (sizeMiB * MiB % FILE_BYTES !== 0) sizes.push(sizeMiB * MiB % FILE_BYTES)
  const buffer = Buffer.allocUnsafe(FILE_BYTES)
  const written: string[] = []
  let bytes = 0
  for (const [i, size] of sizes.entries()) {
    const chunk = buffer.subarray(0, size)
    await promisify(randomFill)(chunk)
    const path = join(output, `ckpt-${String(i).padStart(3, '0')}.bin`)
    await writeFile(path, chunk)
    written.push(path)
    bytes += size
  }
  const small: Array<[string, string]> = [
    ['metrics.jsonl', Array.from({ length: 200 }, (_, step) => JSON.stringify({ metric: 'loss', value: 1 / (step + 1), step })).join('\n') + '\n'],
    ['README', 'checkpoints of a benchmark job\n'],
    ['logs/train.log', 'epoch 1 done\n'.repeat(500)],
    ['logs/eval.log', 'accuracy 0.5\n']
  ]
  await mkdir(join(output, 'logs'))
  await mkdir(join(output, 'empty'))
  written.push(join(output, 'logs'), join(output, 'empty'))
  for (const [name, text] of small) {
    await writeFile(join(output, name), text)
    written.push(join(output, name))
    bytes += Buffer.byteLength(text)
  }
  await symlink(`ckpt-${String(sizes.length - 1).padStart(3, '0')}.bin`, join(output, 'latest.bin'))
  written.push(join(output, 'latest.bin'))
  for (const path of written) await lchown(path, JOB_OWNER.uid, JOB_OWNER.gid)
  await exec('sync', ['-f', output])
  return { bytes, files: sizes.length + small.length }
}

async function rootOf (candidates: AsyncIterable<ImportCandidate> | Iterable<ImportCandidate>, blockstore: Pick<Blockstore, 'put'>, fileImportConcurrency?: number): Promise<CID> {
  let root: CID | undefined
  for await (const result of importer(candidates, blockstore, { profile: PROFILE, wrapWithDirectory: true, ...(fileImportConcurrency != null ? { fileImportConcurrency } : {}) })) root = result.cid
  if (root == null) throw new Error('the importer returned no root')
  return root
}

/** (b) The import before hardening: a plain walk, each path read with createReadStream (1 MiB reads, as import.ts had it). */
async function plainImport (blockstore: Pick<Blockstore, 'put'>, folder: string, fileImportConcurrency?: number): Promise<CID> {
  const tree = await walkTree(folder)
  const candidates = function * (): Generator<ImportCandidate> {
    for (const entry of tree.entries) {
      if (entry.kind === 'file') yield { path: entry.path, content: createReadStream(entry.absolute, { highWaterMark: MiB }) }
      else if (entry.kind === 'dir') yield { path: entry.path }
      else yield { path: entry.path, link: entry.target }
    }
  }
  return await rootOf(candidates(), blockstore, fileImportConcurrency)
}

/** A tar member as tar-stream yields it: its header, then its bytes. */
type Entry = AsyncIterable<Uint8Array> & { header: Header }

async function drain (entry: Entry): Promise<void> {
  for await (const _chunk of entry) { /* a folder's or the root's bytes: none */ }
}

/**
 * (c) Docker's archive API: the stopped container's /output as a tar, streamed, its members
 * fed to the importer one at a time (a tar is read in order; as image-tar.ts does). Names
 * come as `output/…`: the archive's top folder is the path's last component.
 */
async function archiveImport (blockstore: Pick<Blockstore, 'put'>, docker: Docker, containerId: string): Promise<CID> {
  const archive = await docker.getContainer(containerId).getArchive({ path: '/output' }) as Readable
  const extractor = extract()
  const feeding = pipeline(archive, extractor)
  feeding.catch(() => {}) // awaited below; its failure also ends the iteration
  const candidates = async function * (): AsyncGenerator<ImportCandidate> {
    for await (const member of extractor) {
      const entry = member as unknown as Entry
      const [top, ...rest] = memberPath(entry.header.name).split('/')
      if (top !== 'output') throw new Error(`the archive holds ${entry.header.name}, outside output/`)
      const path = rest.join('/')
      const type = entry.header.type
      if (path === '') await drain(entry)
      else if (type === 'directory') {
        await drain(entry)
        yield { path }
      } else if (type === 'symlink') {
        await drain(entry)
        yield { path, link: entry.header.linkname ?? '' }
      } else if (type === 'file' || type === 'contiguous-file') yield { path, content: entry }
      else throw new Error(`the archive holds a ${type ?? 'typeless'} member ${entry.header.name}`)
    }
  }
  try {
    const root = await rootOf(candidates(), blockstore, 1)
    await feeding
    return root
  } finally {
    extractor.destroy()
  }
}

interface Variant {
  key: 'a' | 'b' | 'b1' | 'c'
  label: string
  extract: (blockstore: Pick<Blockstore, 'put'>) => Promise<CID>
}

const work = await mkdtemp(join(tmpdir(), 'floe-bench-extract-'))
const jobRoot = join(work, 'job')
let disk: JobDisk | undefined
let docker: Docker | undefined
let containerId: string | undefined
let cleaning: Promise<void> | undefined
/** Removes the container, unmounts and removes the disk, then the folders; once, however it is reached. */
const cleanup = async (): Promise<void> => {
  cleaning ??= (async () => {
    if (docker != null && containerId != null) await removeJobContainer(docker, containerId)
    await removeJobDisk(jobRoot)
    await rm(work, { recursive: true, force: true, maxRetries: 5 })
  })()
  await cleaning
}
// Ctrl-C or a kill cleans up too (an import in flight may fail meanwhile: the finally below
// waits for the same clean-up), then exits as the signal would have.
const onSignal = (signal: NodeJS.Signals): void => {
  console.error(`output-extraction: ${signal}, cleaning up`)
  cleanup().then(() => process.exit(signal === 'SIGINT' ? 130 : 143), (err: unknown) => {
    console.error(`output-extraction: clean-up failed: ${String(err)}`)
    process.exit(1)
  })
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  await mkdir(jobRoot)
  disk = await createJobDisk(jobRoot, { bytes: Math.ceil(sizeMiB * MiB * 1.15) + 16 * MiB, inodes: 4096 })
  const data = await fillOutput(disk.output)

  const { default: DockerClient } = await import('dockerode')
  docker = new DockerClient()
  await mkdir(disk.code)
  await lchown(disk.code, JOB_OWNER.uid, JOB_OWNER.gid)
  const inputsRoot = join(work, 'inputs')
  await mkdir(inputsRoot)
  const jobId = `bench-output-extraction-${process.pid}`
  containerId = await createJobContainer(docker, {
    jobId,
    client: 'floe-bench',
    provider: 'floe-bench-output-extraction',
    image: 'floe/busybox',
    command: ['true'],
    jobRoot,
    inputsRoot,
    codeDir: disk.code,
    outputDir: disk.output,
    tmpDir: disk.tmp,
    // the archive is read by dockerd on the host, whatever ran the job
    runtime: 'runc',
    inputs: [],
    cpus: 1,
    memoryBytes: 64 * MiB,
    gpus: [],
    network: false
  })
  const container = docker.getContainer(containerId)
  await container.start()
  const { StatusCode } = await container.wait() as { StatusCode: number }
  if (StatusCode !== 0) throw new Error(`the job container exited ${StatusCode}`)

  const output = disk.output
  const dockerClient = docker
  const stopped = containerId
  const variants: Variant[] = [
    { key: 'a', label: '(a) floe now: importPath, one file system, O_NOFOLLOW + inode check', extract: async store => (await importPath(store, output, { budget: BUDGET, oneFileSystem: true })).cid },
    { key: 'b', label: '(b) before hardening: plain walk + createReadStream (baseline)', extract: async store => await plainImport(store, output) },
    { key: 'b1', label: '(b1) control: (b) one file at a time, as a tar imposes', extract: async store => await plainImport(store, output, 1) },
    { key: 'c', label: '(c) Docker archive API: getArchive /output, tar → importer', extract: async store => await archiveImport(store, dockerClient, stopped) }
  ]
  const times = new Map(variants.map(v => [v.key, [] as number[]]))
  const cids = new Map<string, string>()
  for (let run = 0; run < runs; run++) {
    const order = variants.map((_, i) => variants[(i + run) % variants.length]!)
    for (const variant of order) {
      const home = join(work, `store-${variant.key}-${run}`)
      const stores = await openStores(home)
      try {
        let cid: CID | undefined
        times.get(variant.key)!.push(await timed(async () => { cid = await variant.extract(stores.blockstore) }))
        const text = String(cid)
        if (cids.has(variant.key) && cids.get(variant.key) !== text) throw new Error(`${variant.label} gave ${text}, then ${cids.get(variant.key)!} on the same data`)
        cids.set(variant.key, text)
        // written back before the next variant, so none pays for another's dirty pages
        await syncBlocks(stores.blocksPath)
      } finally {
        await stores.close()
        await rm(home, { recursive: true, force: true })
      }
    }
  }

  const base = median(times.get('b')!)
  const figures = Object.fromEntries(variants.map(v => {
    const ms = median(times.get(v.key)!)
    return [v.key, { label: v.label, medianMs: ms, mibPerSecond: mib(data.bytes) / (ms / 1000), ratioToB: ms / base, samplesMs: times.get(v.key)!, cid: cids.get(v.key)! }]
  }))
  const sameRoot = new Set(cids.values()).size === 1
  const result = { runs, sizeMiB, bytes: data.bytes, files: data.files, figures, sameRoot }
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else {
    console.log(`/output of a stopped job: ${mib(data.bytes).toFixed(1)} MiB in ${data.files} files (+ 2 folders, 1 symlink) on a loop-mounted ext4 job disk; median of ${runs}, each into a fresh block store`)
    for (const v of variants) {
      const f = figures[v.key]!
      console.log(`${v.label}: ${f.medianMs.toFixed(0)} ms, ${f.mibPerSecond.toFixed(0)} MiB/s${v.key === 'b' ? '' : `, ${f.ratioToB.toFixed(2)}× (b)`}  [${f.samplesMs.map(t => t.toFixed(0)).join(', ')}]`)
    }
    if (sameRoot) console.log(`root CID, the same all ways: ${cids.get('a')!}`)
    else {
      for (const v of variants) console.log(`root CID ${v.key}: ${cids.get(v.key)!}`)
      console.log('the roots differ: floe imports names, bytes and link targets only (no modes, owners or times), so a difference means a member was named, ordered or typed differently')
    }
  }
  if (!sameRoot) process.exitCode = 1
} finally {
  await cleanup()
}
