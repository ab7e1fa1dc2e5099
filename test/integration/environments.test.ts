import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectToProvider, floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { removeContainers } from '../helpers/containers.js'

const exec = promisify(execFile)
const r = resources()
/** every image this file made or made floe make: removed at the end, children first */
const images: string[] = []
const suffix = randomBytes(4).toString('hex')
const MiB = 1024 * 1024

let client: RunningDaemon
let provider: RunningDaemon

async function dockerBuild (files: Record<string, string | Buffer>, tag: string): Promise<string> {
  const dir = r.folder(await tempHome('floe-image-'))
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content)
  const { stdout } = await exec('docker', ['build', '--network', 'none', '-q', '-t', tag, dir])
  const id = stdout.trim().split('\n').pop() as string
  images.unshift(id)
  return id
}

async function imageExists (id: string): Promise<boolean> {
  try {
    await exec('docker', ['image', 'inspect', id])
    return true
  } catch {
    return false
  }
}

/** `floe env publish IMAGE --name NAME` on the client; then Docker forgets the labelled image, so only its blocks remain. */
async function publishAndForget (image: string, name: string): Promise<any> {
  const published = await floeJson(['env', 'publish', image, '--name', name, '--home', client.home])
  images.unshift(published.imageId)
  await exec('docker', ['rmi', '-f', published.imageId])
  return published
}

async function runFollow (args: string[]): Promise<{ job: any, code: number | null, stderr: string }> {
  const result = await floe(['run', '--home', client.home, '--path', await r.codeFolder({ 'run.sh': 'echo from the code\n' }), '--json', '--follow', ...args], { timeoutMs: 90_000 })
  return { job: result.stdout === '' ? null : JSON.parse(result.stdout), code: result.code, stderr: result.stderr }
}

async function blockFiles (home: string): Promise<Map<string, number>> {
  const files = new Map<string, number>()
  const root = join(home, 'blocks')
  for (const shard of await readdir(root)) {
    for (const name of await readdir(join(root, shard))) if (name.endsWith('.data')) files.set(join(root, shard, name), (await stat(join(root, shard, name))).size)
  }
  return files
}

const tag = (name: string): string => `floe-test-env/${name}:${suffix}`
const env = (name: string): string => `${name}-${suffix}`

beforeAll(async () => {
  // a base of 4 MiB, and images on it that add a small file, 1 MiB, and 512 KiB twice
  await dockerBuild({ Dockerfile: 'FROM floe/busybox\nCOPY base.bin /opt/base.bin\n', 'base.bin': randomBytes(4 * MiB) }, tag('base'))
  await dockerBuild({ Dockerfile: `FROM ${tag('base')}\nCOPY one.txt /etc/one.txt\n`, 'one.txt': `the file of image one ${suffix}\n` }, tag('one'))
  await dockerBuild({ Dockerfile: `FROM ${tag('base')}\nCOPY two.bin /etc/two.bin\n`, 'two.bin': randomBytes(MiB) }, tag('two'))
  await dockerBuild({ Dockerfile: `FROM ${tag('base')}\nCOPY three.bin /etc/three.bin\n`, 'three.bin': randomBytes(MiB / 2) }, tag('three'))
  await dockerBuild({ Dockerfile: `FROM ${tag('base')}\nCOPY four.bin /etc/four.bin\n`, 'four.bin': randomBytes(MiB / 2) }, tag('four'))
  client = r.daemon(await startDaemon(r.folder(await tempHome())))
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  await connectToProvider(client, provider)
}, 120_000)

afterAll(async () => {
  const { stdout } = await exec('docker', ['ps', '-a', '-q', '--filter', `label=org.floe.client=${client?.endpoint.peerId ?? 'none'}`])
  const containers = stdout.split('\n').filter(Boolean)
  await removeContainers(containers)
  await r.cleanup()
  for (const id of [...new Set(images)]) await exec('docker', ['rmi', '-f', id]).catch(() => {})
  expect(containers, 'containers left behind').toEqual([])
}, 60_000)

describe('environments as content', () => {
  it('publishes an image on one daemon; another that lacks it fetches, checks and loads it to run a job', async () => {
    const published = await publishAndForget(tag('one'), env('one'))
    expect(published).toMatchObject({ name: env('one'), origin: 'published', accelerator: 'cpu', layers: 6 })
    expect(published.cid).toMatch(/^bafy/)
    expect(await imageExists(published.imageId)).toBe(false)
    const listed = await floeJson(['env', 'ls', '--home', client.home])
    expect(listed).toContainEqual(expect.objectContaining({ name: env('one'), cid: published.cid, held: false, origin: 'published' }))

    const run = await runFollow(['--env', env('one'), '--', 'cat', '/etc/one.txt'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.job).toMatchObject({ state: 'success', provider: provider.endpoint.peerId, spec: { environment: env('one'), image: { cid: published.cid, id: published.imageId, bytes: published.bytes } } })
    const logs = await floeJson(['logs', run.job.ref, '--home', client.home])
    const notes = logs.lines.filter((l: any) => l.stream === 'system').map((l: any) => l.line).join('\n')
    expect(notes).toMatch(new RegExp(`fetched environment "${env('one')}"`))
    expect(notes).toMatch(/loaded environment .* into Docker/)
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line)).toEqual([`the file of image one ${suffix}`])
    // the fetch and the load are timed apart from the run
    const fetched = run.job.receipt.environment
    expect(fetched.fetchedBytes).toBeGreaterThan(4 * MiB)
    expect(fetched.fetchMs + fetched.loadMs).toBeLessThanOrEqual(run.job.receipt.preparingMs)
    expect(await imageExists(published.imageId)).toBe(true)
    const held = await floeJson(['env', 'ls', '--home', provider.home])
    expect(held).toContainEqual(expect.objectContaining({ name: env('one'), cid: published.cid, origin: 'fetched', held: true, image: `floe-fetched:${published.imageId.slice(7)}` }))
    // a fetched image is held by its id, not offered under the name a job gave it (test/security/environment-names.test.ts)
    expect((await floeJson(['provider', 'show', '--home', provider.home])).offer.environments).not.toContain(env('one'))

    // a second job finds it held: nothing is fetched
    const again = await runFollow(['--env', env('one'), '--', 'true'])
    expect(again.job).toMatchObject({ state: 'success' })
    expect(again.job.receipt.environment).toBeUndefined()
  }, 120_000)

  it('moves only the new layer of an environment that shares its base with one held', async () => {
    const published = await publishAndForget(tag('two'), env('two'))
    expect(published.bytes).toBeGreaterThan(5 * MiB)
    const run = await runFollow(['--env', env('two'), '--', 'sh', '-c', 'wc -c < /etc/two.bin'])
    expect(run.code, run.stderr).toBe(0)
    const logs = await floeJson(['logs', run.job.ref, '--home', client.home])
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line.trim())).toEqual([String(MiB)])
    // the new layer (1 MiB of file in a tar), its config and folders: not the 4 MiB base again
    const moved = run.job.receipt.environment.fetchedBytes
    expect(moved).toBeGreaterThan(MiB)
    expect(moved).toBeLessThan(MiB + 64 * 1024)
  }, 120_000)

  it('refuses bad input clearly, before anything is fetched or loaded; past its budget a provider removes the least recently used', async () => {
    const unknown = await floe(['run', '--home', client.home, '--path', await r.codeFolder({ 'run.sh': 'echo from the code\n' }), '--env', 'nosuch-env', '--', 'true'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/unknown environment "nosuch-env"/)
    const noBase = await floe(['env', 'build', 'x', '--from', 'nosuch-env', '--home', client.home])
    expect(noBase.stderr).toMatch(/unknown environment "nosuch-env"/)
    const noImage = await floe(['env', 'publish', `nosuch/image:${suffix}`, '--home', client.home])
    expect(noImage.stderr).toMatch(/Docker holds no image "nosuch\/image/)
    const badName = await floe(['env', 'publish', tag('one'), '--name', 'Bad Name', '--home', client.home])
    expect(badName.stderr).toMatch(/name/)

    // tars that are not Docker images
    const dir = r.folder(await tempHome('floe-tar-'))
    await mkdir(join(dir, 'stuff'))
    await writeFile(join(dir, 'stuff', 'hello.txt'), 'hello\n')
    await exec('tar', ['-C', join(dir, 'stuff'), '-cf', join(dir, 'plain.tar'), '.'])
    const plain = await floe(['env', 'publish', join(dir, 'plain.tar'), '--home', client.home])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(/has no manifest\.json: it is not what docker save writes/)
    await writeFile(join(dir, 'random.tar'), randomBytes(10_000))
    const random = await floe(['env', 'publish', join(dir, 'random.tar'), '--home', client.home])
    expect(random.stderr).toMatch(/is not a tar archive/)
    // shaped as an image, but its layer is not the one its config names: Docker refuses it, and none stays
    await mkdir(join(dir, 'layer-a'))
    await writeFile(join(dir, 'layer-a', 'a'), `a ${suffix}\n`)
    await exec('tar', ['-C', join(dir, 'layer-a'), '-cf', join(dir, 'a.tar'), '.'])
    await mkdir(join(dir, 'image', 'l'), { recursive: true })
    await writeFile(join(dir, 'layer-a', 'a'), `b ${suffix}\n`)
    await exec('tar', ['-C', join(dir, 'layer-a'), '-cf', join(dir, 'image', 'l', 'layer.tar'), '.'])
    const diffId = `sha256:${createHash('sha256').update(await readFile(join(dir, 'a.tar'))).digest('hex')}`
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } })
    await writeFile(join(dir, 'image', 'c.json'), config)
    await writeFile(join(dir, 'image', 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l/layer.tar'] }]))
    await exec('tar', ['-C', join(dir, 'image'), '-cf', join(dir, 'mismatched.tar'), '.'])
    const mismatched = await floe(['env', 'publish', join(dir, 'mismatched.tar'), '--name', env('mismatched'), '--home', client.home])
    expect(mismatched.code).toBe(1)
    expect(mismatched.stderr).toMatch(/docker load refused the image/)
    expect(await imageExists(`sha256:${createHash('sha256').update(config).digest('hex')}`)).toBe(false)

    // an image bigger than the provider gives environments: no provider fits, the sizes said
    const three = await publishAndForget(tag('three'), env('three'))
    await floeJson(['provider', 'set', 'max-environments-disk', '1m', '--home', provider.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers[0]?.offer.acceptsEnvironmentBytes, { timeout: 10_000 }).toBe(MiB)
    const tooBig = await floe(['run', '--home', client.home, '--path', await r.codeFolder({ 'run.sh': 'echo from the code\n' }), '--env', env('three'), '--', 'true'])
    expect(tooBig.code).toBe(1)
    expect(tooBig.stderr).toMatch(new RegExp(`environment "${env('three')}" not held, and its [0-9.]+ MiB image is more than the 1(\\.00)? MiB it takes`))
    expect(await imageExists(three.imageId)).toBe(false)

    // room for two and three only: bringing three removes one, the least recently used
    const held = await floeJson(['env', 'ls', '--home', provider.home])
    const [one, two] = [env('one'), env('two')].map(name => held.find((e: any) => e.name === name))
    const budget = two.bytes + three.bytes + 256 * 1024
    await floeJson(['provider', 'set', 'max-environments-disk', String(budget), '--home', provider.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers[0]?.offer.acceptsEnvironmentBytes, { timeout: 10_000 }).toBe(budget)
    const run = await runFollow(['--env', env('three'), '--', 'true'])
    expect(run.job).toMatchObject({ state: 'success' })
    const after = (await floeJson(['env', 'ls', '--home', provider.home])).map((e: any) => e.name)
    expect(after).toEqual(expect.arrayContaining([env('two'), env('three')]))
    expect(after).not.toContain(env('one'))
    expect(await imageExists(one.imageId)).toBe(false)
    await floeJson(['provider', 'set', 'max-environments-disk', '20g', '--home', provider.home])
  }, 120_000)

  it('builds environments: the busybox recipe, and one on a published environment with a Dockerfile', async () => {
    const busybox = await floeJson(['env', 'build', '--recipe', 'busybox', '--home', client.home])
    expect(busybox).toMatchObject({ name: 'busybox', origin: 'built', held: true, description: 'BusyBox (static) on an empty image' })
    images.unshift(busybox.image)
    const { stdout } = await exec('docker', ['run', '--rm', '--network', 'none', busybox.imageId, 'sh', '-c', 'echo built'])
    expect(stdout).toBe('built\n')

    const dir = r.folder(await tempHome('floe-dockerfile-'))
    await writeFile(join(dir, 'Dockerfile'), 'COPY hi.txt /etc/hi.txt\n')
    await writeFile(join(dir, 'hi.txt'), 'hi from a build\n')
    // without env one's image in Docker, the build loads it from its blocks first
    const one = (await floeJson(['env', 'ls', '--home', client.home])).find((e: any) => e.name === env('one'))
    await exec('docker', ['rmi', '-f', one.imageId])
    const built = await floeJson(['env', 'build', env('built'), '--from', env('one'), '--file', join(dir, 'Dockerfile'), '--home', client.home])
    images.unshift(built.imageId)
    expect(built).toMatchObject({ name: env('built'), origin: 'built', held: true })
    const { stdout: both } = await exec('docker', ['run', '--rm', '--network', 'none', built.imageId, 'cat', '/etc/one.txt', '/etc/hi.txt'])
    expect(both).toBe(`the file of image one ${suffix}\nhi from a build\n`)
    const withFrom = join(dir, 'Bad.Dockerfile')
    await writeFile(withFrom, 'FROM scratch\n')
    const refused = await floe(['env', 'build', env('bad'), '--from', env('one'), '--file', withFrom, '--home', client.home])
    expect(refused.stderr).toMatch(/has a FROM line; leave it out/)
  }, 120_000)

  it('refuses an image whose blocks do not verify, leaving no image loaded', async () => {
    const before = await blockFiles(client.home)
    const published = await publishAndForget(tag('four'), env('corrupt'))
    const added = [...(await blockFiles(client.home))].filter(([path]) => !before.has(path)).sort((a, b) => b[1] - a[1])
    // the largest new block is a piece of the new layer: overwritten in the client's store
    const [path, size] = added[0] as [string, number]
    await writeFile(path, randomBytes(size))
    const run = await runFollow(['--env', env('corrupt'), '--', 'true'])
    expect(run.job).toMatchObject({ state: 'failed' })
    expect(run.job.reason).toMatch(/do not match its hash/)
    expect(await imageExists(published.imageId)).toBe(false)
    const held = await floeJson(['env', 'ls', '--home', provider.home])
    expect(held.map((e: any) => e.name)).not.toContain(env('corrupt'))
  }, 120_000)
})
