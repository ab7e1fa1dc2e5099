// Time to a usable notebook: from `floe workspace start` (a Jupyter environment: Debian 12's
// Jupyter Notebook on the python-3.11 recipe, image floe-test/jupyter, see
// test/helpers/jupyter-env.ts) to the notebook's API answering 200 with its token through the
// daemon's notebook proxy, beside baselines measured in the same run:
//   - warm (the provider holds the environment; its Docker has the image): against `docker
//     run` of the same image starting jupyter-notebook directly (host network, polled on
//     127.0.0.1), median of --runs;
//   - cold (the environment is fetched from another daemon; Docker lacks its layers): against
//     `docker save` to a file + `docker load` of the same image, then the same `docker run`.
// Usage: node dist/bench/notebook.js [--runs 3] [--json]
// Needs the image (a run of test/e2e/notebook.test.ts builds it once per machine: minutes).
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { JUPYTER_IMAGE } from '../test/helpers/jupyter-env.js'
import { createApiClient, type ApiClient } from '../client/api-client.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'
import { floeJson, mib, startBenchDaemon, timed, type BenchDaemon } from './helpers.js'

const IMAGE = JUPYTER_IMAGE
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } })
const runs = Number(values.runs)
const exec = promisify(execFile)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

function apiOf (d: BenchDaemon): ApiClient {
  const paths = homePaths(d.home)
  const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
  return createApiClient({ url: endpoint.url, token: readFileSync(paths.apiToken, 'utf8').trim() })
}

/** Polls `url` until it answers 200 (every 50 ms, at most `limitMs`). */
async function until200 (url: string, limitMs = 300_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (Date.now() < deadline) {
    const status = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(res => res.status, () => 0)
    if (status === 200) return
    await sleep(50)
  }
  throw new Error(`${url} never answered 200`)
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => { resolve() }))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

/** The baseline: `docker run` of the image starting jupyter-notebook itself, until its API answers. */
async function dockerRunToNotebook (image: string): Promise<number> {
  const token = randomBytes(32).toString('hex')
  const port = await freePort()
  const name = `floe-bench-notebook-${randomBytes(4).toString('hex')}`
  try {
    return await timed(async () => {
      await exec('docker', ['run', '-d', '--name', name, '--network', 'host', '--user', '65534:65534', '-e', 'HOME=/tmp', '-e', `JUPYTER_TOKEN=${token}`, image,
        'jupyter-notebook', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0', '--notebook-dir=/tmp'])
      await until200(`http://127.0.0.1:${port}/api/status?token=${token}`)
    })
  } finally {
    await exec('docker', ['rm', '-f', name]).catch(() => {})
  }
}

/**
 * A second baseline: the same `docker run` under gVisor (runsc), as a provider runs jobs here,
 * with the network off as in a workspace; ready = Jupyter's "is running at" log line (its port
 * cannot be reached from the host without a network).
 */
async function dockerRunscToLog (image: string): Promise<number> {
  const name = `floe-bench-notebook-${randomBytes(4).toString('hex')}`
  try {
    return await timed(async () => {
      await exec('docker', ['run', '-d', '--name', name, '--runtime', 'runsc', '--network', 'none', '--user', '65534:65534', '-e', 'HOME=/tmp', '-e', `JUPYTER_TOKEN=${randomBytes(32).toString('hex')}`, image,
        'jupyter-notebook', '--no-browser', '--ip=127.0.0.1', '--port=8888', '--port-retries=0', '--notebook-dir=/tmp'])
      const logs = spawn('docker', ['logs', '-f', name], { stdio: ['ignore', 'pipe', 'pipe'] })
      await new Promise<void>((resolve, reject) => {
        let seen = ''
        const look = (chunk: Buffer): void => { seen += chunk.toString(); if (seen.includes('is running at')) { logs.kill(); resolve() } }
        logs.stdout.on('data', look)
        logs.stderr.on('data', look)
        logs.on('close', () => { reject(new Error(`jupyter under runsc never said it runs:\n${seen}`)) })
      })
    })
  } finally {
    await exec('docker', ['rm', '-f', name]).catch(() => {})
  }
}

/** floe: workspace start → running → the notebook's API answers through the daemon. */
async function floeToNotebook (api: ApiClient, environment: string, provider: string, code: string): Promise<{ totalMs: number, runningMs: number, ref: string, preparingMs?: number }> {
  const t0 = performance.now()
  const start = async (): Promise<{ ref: string }> => await api.call('workspaceStart', { name: 'bench', path: code, environment, requirements: { cpus: 1, memoryBytes: 2 * 1024 ** 3, gpus: 0 }, provider, jupyter: 'on' })
  // a provider just started may not offer to take environments yet (its Docker check pending on a loaded machine): asked again
  let ws: { ref: string } | undefined
  for (let tries = 0; ws == null; tries++) {
    ws = await start().catch(async (err: Error) => { if (err.name !== 'NoProviderError' || tries >= 30) throw err; await sleep(1000); return undefined })
  }
  let runningMs = NaN
  while (true) {
    const job = await api.call('jobShow', { ref: ws.ref })
    if (job.state === 'running') { runningMs = performance.now() - t0; break }
    if (job.state === 'failed' || job.state === 'lost' || job.state === 'stopped') throw new Error(`workspace ${ws.ref} ${job.state}: ${job.reason ?? ''}`)
    await sleep(50)
  }
  let url = ''
  while (url === '') {
    url = await api.call('workspaceNotebook', { ref: ws.ref }).then(n => n.url, () => '')
    if (url === '') await sleep(100)
  }
  const { origin, searchParams } = new URL(url)
  await until200(`${origin}/api/status?token=${searchParams.get('token') ?? ''}`)
  return { totalMs: performance.now() - t0, runningMs, ref: ws.ref }
}

async function stopWorkspace (api: ApiClient, ref: string): Promise<void> {
  await api.call('jobStop', { ref }).catch(() => {})
}

/** Every image sharing the image's first layer (its base): removed too, so Docker lacks every layer. */
async function sharingBase (id: string): Promise<string[]> {
  const first = async (image: string): Promise<string> => (await exec('docker', ['image', 'inspect', '-f', '{{index .RootFS.Layers 0}}', image])).stdout.trim()
  const base = await first(id)
  const { stdout } = await exec('docker', ['images', '-a', '-q', '--no-trunc'])
  const ids = [...new Set(stdout.split('\n').filter(line => line !== ''))]
  const sharing: string[] = []
  for (const other of ids) if (other !== id && await first(other).catch(() => '') === base) sharing.push(other)
  return sharing
}

/** Removes an image and every image on its base, by every tag (Docker then lacks all its layers). */
async function removeImage (id: string): Promise<void> {
  const others = await sharingBase(id)
  const refs: string[] = []
  for (const image of [id, ...others]) refs.push(...await tagsOf(image))
  await exec('docker', ['rmi', '-f', ...refs]).catch(() => {})
  for (const image of [id, ...others]) await exec('docker', ['rmi', '-f', image]).catch(() => {})
}

/** Every tag of an image id (to remove them all, so Docker lacks its layers). */
async function tagsOf (id: string): Promise<string[]> {
  const { stdout } = await exec('docker', ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
  return stdout.split('\n').map(line => line.split(' ')).filter(([, image]) => image === id).map(([tag]) => tag ?? '').filter(tag => tag !== '' && !tag.includes('<none>'))
}

const imageId = await exec('docker', ['image', 'inspect', '-f', '{{.Id}}', IMAGE]).then(({ stdout }) => stdout.trim(), () => {
  throw new Error(`${IMAGE} is not on this machine: run test/e2e/notebook.test.ts once (it builds it), or floe env build jupyter --from python-3.11 --apt jupyter-notebook and docker tag it ${IMAGE}`)
})
const imageBytes = Number((await exec('docker', ['image', 'inspect', '-f', '{{.Size}}', IMAGE])).stdout.trim())
const work = await mkdtemp(join(tmpdir(), 'floe-bench-notebook-'))
const code = join(work, 'code')
await exec('mkdir', ['-p', code])
const tar = join(work, 'image.tar')
const daemons: BenchDaemon[] = []
try {
  // warm: the baseline, then floe on a provider that holds the environment (its own client)
  const baseWarm: number[] = []
  for (let i = 0; i < runs; i++) baseWarm.push(await dockerRunToNotebook(IMAGE))
  const baseRunsc: number[] = []
  for (let i = 0; i < runs; i++) baseRunsc.push(await dockerRunscToLog(IMAGE).catch(() => NaN))
  const provider = await startBenchDaemon(undefined, ['--provider'])
  daemons.push(provider)
  const published = await floeJson(['env', 'publish', IMAGE, '--name', 'jupyter', '--home', provider.home])
  const papi = apiOf(provider)
  const warm: Array<{ totalMs: number, runningMs: number }> = []
  for (let i = 0; i < runs; i++) {
    const run = await floeToNotebook(papi, 'jupyter', provider.peerId, code)
    warm.push(run)
    await stopWorkspace(papi, run.ref)
  }

  // cold: the baseline save + load (Docker lacking the image's layers before the load) + run
  const saveMs = await timed(async () => {
    const child = spawn('docker', ['save', imageId], { stdio: ['ignore', 'pipe', 'inherit'] })
    await pipeline(child.stdout, createWriteStream(tar))
  })
  await removeImage(imageId)
  const loadMs = await timed(async () => { await exec('docker', ['load', '-i', tar]) })
  await exec('docker', ['tag', imageId, IMAGE])
  const baseColdRun = await dockerRunToNotebook(IMAGE)

  // floe: a client that holds the environment, a provider that lacks it (and whose Docker lacks its layers)
  const client = await startBenchDaemon()
  daemons.push(client)
  await floeJson(['env', 'publish', IMAGE, '--name', 'jupyter', '--home', client.home])
  const far = await startBenchDaemon(undefined, ['--provider'])
  daemons.push(far)
  await floeJson(['connect', (await floeJson(['id', '--home', far.home])).addresses[0], '--home', client.home])
  while ((await floeJson(['providers', '--home', client.home])).providers.length === 0) await sleep(100)
  await removeImage(imageId)
  const capi = apiOf(client)
  const cold = await floeToNotebook(capi, 'jupyter', far.peerId, code)
  const coldJob = await capi.call('jobShow', { ref: cold.ref })
  await stopWorkspace(capi, cold.ref)

  const warmMs = median(warm.map(w => w.totalMs))
  const baseWarmMs = median(baseWarm)
  const result = {
    image: { bytes: published.bytes, dockerSizeBytes: imageBytes, layers: published.layers },
    warm: { floeMs: warmMs, floeRunningMs: median(warm.map(w => w.runningMs)), dockerRunMs: baseWarmMs, ratio: warmMs / baseWarmMs, dockerRunscLogMs: median(baseRunsc), ratioRunsc: warmMs / median(baseRunsc), runs: { floe: warm.map(w => w.totalMs), dockerRun: baseWarm, dockerRunsc: baseRunsc } },
    cold: {
      floeMs: cold.totalMs,
      floeRunningMs: cold.runningMs,
      environment: coldJob.receipt?.environment ?? null,
      baseline: { saveMs, loadMs, dockerRunMs: baseColdRun, totalMs: saveMs + loadMs + baseColdRun },
      ratio: cold.totalMs / (saveMs + loadMs + baseColdRun)
    }
  }
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else {
    console.log(`image ${mib(result.image.bytes).toFixed(0)} MiB (${result.image.layers} layers)`)
    console.log(`warm: floe workspace start → notebook answers ${warmMs.toFixed(0)} ms (running after ${result.warm.floeRunningMs.toFixed(0)} ms) vs docker run → notebook ${baseWarmMs.toFixed(0)} ms: ${result.warm.ratio.toFixed(2)}× (median of ${runs})`)
    console.log(`  the same docker run under runsc (gVisor, as the provider runs it), to Jupyter's "is running at" line: ${result.warm.dockerRunscLogMs.toFixed(0)} ms: floe ${result.warm.ratioRunsc.toFixed(2)}×`)
    const b = result.cold.baseline
    console.log(`cold: floe (environment fetched from another daemon) ${cold.totalMs.toFixed(0)} ms (running after ${cold.runningMs.toFixed(0)} ms) vs docker save ${saveMs.toFixed(0)} + load ${loadMs.toFixed(0)} + run → notebook ${b.dockerRunMs.toFixed(0)} = ${b.totalMs.toFixed(0)} ms: ${result.cold.ratio.toFixed(2)}×`)
    if (result.cold.environment != null) console.log(`  the provider's fetch + load: ${JSON.stringify(result.cold.environment)}`)
  }
} finally {
  for (const d of daemons.reverse()) await d.stop().catch((err: Error) => { console.error(`could not stop a daemon: ${err.message}`) })
  // the image stays on this machine under its tag, as it was
  const present = await exec('docker', ['image', 'inspect', imageId]).then(() => true, () => false)
  if (!present) await exec('docker', ['load', '-i', tar]).catch((err: Error) => { console.error(`could not load ${IMAGE} back: ${err.message}`) })
  await exec('docker', ['tag', imageId, IMAGE]).catch((err: Error) => { console.error(`could not tag ${IMAGE} again: ${err.message}`) })
  await rm(work, { recursive: true, force: true })
}
