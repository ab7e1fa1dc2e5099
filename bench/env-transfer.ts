// Environments as content: an image of a few hundred MB (floe/busybox + random files) is
// published on one daemon (docker save → DAG) and fetched + loaded by a provider daemon that
// lacks it (the job's `preparing`, timed apart in its receipt), beside `docker save` then
// `docker load` of the same image, all in the same run and with Docker lacking the image's
// layers before each load. Then an image that adds a small layer to the same base: the bytes
// the provider moves for it.
// Usage: node dist/bench/env-transfer.js [--mib 300] [--child-mib 16] [--json]
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { floeJson, mib, startBenchDaemon, timed } from './helpers.js'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '300' }, 'child-mib': { type: 'string', default: '16' }, json: { type: 'boolean', default: false } } })
const baseMiB = Number(values.mib)
const childMiB = Number(values['child-mib'])
const exec = promisify(execFile)
const MiB = 1024 * 1024
const tag = randomBytes(4).toString('hex')
const images: string[] = []

async function writeRandom (path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  for (let left = bytes; left > 0; left -= MiB) {
    if (!out.write(randomBytes(Math.min(MiB, left)))) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }))
}

/** `docker build` of floe/busybox (or another image) + random files of `mebibytes` in one layer. */
async function buildImage (from: string, mebibytes: number, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-bench-image-'))
  try {
    const files = Math.max(1, Math.ceil(mebibytes / 100))
    for (let i = 0; i < files; i++) await writeRandom(join(dir, `blob${i}.bin`), Math.floor(mebibytes * MiB / files))
    await writeFile(join(dir, 'Dockerfile'), `FROM ${from}\nCOPY blob*.bin /opt/${name}/\n`)
    const ref = `floe-bench-env/${name}:${tag}`
    await exec('docker', ['build', '--network', 'none', '-q', '-t', ref, dir], { maxBuffer: 16 * MiB })
    images.unshift(ref)
    return ref
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function rmi (...refs: string[]): Promise<void> {
  await exec('docker', ['rmi', '-f', ...refs]).catch(() => {})
}

/** `floe run --follow --json -- true` in an environment, on the client: the finished job. */
async function runIn (home: string, code: string, env: string): Promise<any> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../bin/floe.js'), 'run', '--home', home, '--path', code, '--env', env, '--follow', '--json', '--', 'true'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', chunk => { out += chunk })
  await new Promise(resolve => child.on('close', resolve))
  const job = JSON.parse(out)
  if (job.state !== 'success') throw new Error(`the job in ${env} ${job.state}: ${job.reason}`)
  return job
}

const work = await mkdtemp(join(tmpdir(), 'floe-bench-env-'))
const code = join(work, 'code')
await exec('mkdir', ['-p', code])
await writeFile(join(code, 'README'), 'a small code folder\n')
const client = await startBenchDaemon()
const provider = await startBenchDaemon(undefined, ['--provider'])
try {
  await floeJson(['connect', (await floeJson(['id', '--home', provider.home])).addresses[0], '--home', client.home])
  while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await sleep(100)

  const base = await buildImage('floe/busybox', baseMiB, 'base')
  const baseId = (await exec('docker', ['image', 'inspect', '-f', '{{.Id}}', base])).stdout.trim()
  const imageBytes = Number((await exec('docker', ['image', 'inspect', '-f', '{{.Size}}', base])).stdout.trim())

  // the baseline: docker save to a file, the image removed, docker load from the file
  const tar = join(work, 'base.tar')
  const saveMs = await timed(async () => { await pipeline((await spawnOut('docker', ['save', baseId])), createWriteStream(tar)) })
  await rmi(base)
  const loadMs = await timed(async () => { await exec('docker', ['load', '-i', tar]) })
  const tarBytes = (await stat(tar)).size
  await exec('docker', ['tag', baseId, base])
  await rm(tar)

  // floe: publish (relabel + save + import as a DAG) on the client
  const baseEnv = `bench-base-${tag}`
  let published: any
  const publishMs = await timed(async () => { published = await floeJson(['env', 'publish', base, '--name', baseEnv, '--home', client.home]) })
  images.unshift(published.imageId)
  // the child adds a small layer to the same base
  const child = await buildImage(base, childMiB, 'child')
  const childEnv = `bench-child-${tag}`
  const childPublished = await floeJson(['env', 'publish', child, '--name', childEnv, '--home', client.home])
  images.unshift(childPublished.imageId)
  // the provider's Docker must lack every layer, as it did for docker load
  await rmi(childPublished.imageId, child, published.imageId, base)

  const wallMs = await timed(async () => { published.job = await runIn(client.home, code, baseEnv) })
  const fetched = published.job.receipt.environment
  const childJob = await runIn(client.home, code, childEnv)

  const result = {
    image: { bytes: published.bytes, dockerSizeBytes: imageBytes, tarBytes, layers: published.layers },
    baseline: { saveMs, loadMs, totalMs: saveMs + loadMs },
    floe: {
      publishMs,
      fetchMs: fetched.fetchMs,
      loadMs: fetched.loadMs,
      fetchedBytes: fetched.fetchedBytes,
      preparingMs: published.job.receipt.preparingMs,
      jobWallMs: wallMs,
      publishPlusFetchLoadMs: publishMs + fetched.fetchMs + fetched.loadMs,
      /** publish + fetch + load over docker save + docker load */
      ratio: (publishMs + fetched.fetchMs + fetched.loadMs) / (saveMs + loadMs)
    },
    sharedBase: { childBytes: childPublished.bytes, newLayerMiB: childMiB, fetchedBytes: childJob.receipt.environment.fetchedBytes, fetchMs: childJob.receipt.environment.fetchMs, loadMs: childJob.receipt.environment.loadMs }
  }
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else {
    const f = result.floe
    const b = result.baseline
    console.log(`image of ${mib(result.image.bytes).toFixed(0)} MiB (${result.image.layers} layers): docker save ${b.saveMs.toFixed(0)} ms + docker load ${b.loadMs.toFixed(0)} ms = ${b.totalMs.toFixed(0)} ms`)
    console.log(`floe: env publish ${f.publishMs.toFixed(0)} ms; provider fetch ${f.fetchMs} ms (${mib(f.fetchedBytes).toFixed(0)} MiB, ${(mib(f.fetchedBytes) / (f.fetchMs / 1000)).toFixed(0)} MiB/s) + load ${f.loadMs} ms; publish + fetch + load ${f.publishPlusFetchLoadMs.toFixed(0)} ms (${f.ratio.toFixed(2)}× save + load); the job's preparing ${f.preparingMs} ms, whole job ${f.jobWallMs.toFixed(0)} ms`)
    const s = result.sharedBase
    console.log(`an image adding ${s.newLayerMiB} MiB to that base (${mib(s.childBytes).toFixed(0)} MiB in all): ${mib(s.fetchedBytes).toFixed(2)} MiB moved, fetch ${s.fetchMs} ms + load ${s.loadMs} ms`)
  }
} finally {
  await client.stop()
  await provider.stop()
  await rmi(...images)
  await rm(work, { recursive: true, force: true })
}

/** A command's stdout as a stream; rejects (through the stream) when it fails. */
async function spawnOut (command: string, args: string[]): Promise<NodeJS.ReadableStream> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  child.on('close', code => { if (code !== 0) child.stdout.destroy(new Error(`${command} ${args.join(' ')} exited ${String(code)}`)) })
  return child.stdout
}

