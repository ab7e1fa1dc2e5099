import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { connectToProvider, floe, floeJson, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { freePort, startRegistry, type LocalRegistry } from '../helpers/registry.js'

const exec = promisify(execFile)
const r = resources()
const suffix = randomBytes(4).toString('hex')
const images: string[] = []

let registry: LocalRegistry
let client: RunningDaemon
let provider: RunningDaemon
/** the pushed image: its reference by tag, its digest and the text of the file it carries */
let ref: string
let digest: string
/** the environment the first test pulled */
let first: any
const text = `pulled from a registry ${suffix}\n`

async function runFollow (env: string, command: string[]): Promise<{ job: any, code: number | null, stderr: string }> {
  const result = await floe(['run', '--home', client.home, '--path', await r.codeFolder({ 'run.sh': 'true\n' }), '--json', '--follow', '--env', env, '--', ...command], { timeoutMs: 90_000 })
  return { job: result.stdout === '' ? null : JSON.parse(result.stdout), code: result.code, stderr: result.stderr }
}

beforeAll(async () => {
  registry = await startRegistry(r.folder(await tempHome('floe-registry-')))
  const dir = r.folder(await tempHome('floe-image-'))
  await writeFile(join(dir, 'Dockerfile'), 'FROM floe/busybox\nCOPY pulled.txt /etc/pulled.txt\n')
  await writeFile(join(dir, 'pulled.txt'), text)
  ref = `${registry.host}/floe-test/pulled-${suffix}:v1`
  await exec('docker', ['build', '--network', 'none', '-q', '-t', ref, dir])
  await exec('docker', ['push', ref])
  const { stdout } = await exec('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref])
  digest = (JSON.parse(stdout) as string[]).find(d => d.startsWith(`${registry.host}/`))?.split('@')[1] ?? ''
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/)
  // Docker forgets it: only the registry has it now
  await exec('docker', ['rmi', '-f', ref])
  client = await r.start()
  provider = await r.start('--provider')
  await connectToProvider(client, provider)
}, 120_000)

afterAll(async () => {
  const left = await removeLeftContainers(r.started)
  await r.cleanup()
  await registry?.stop()
  // what the pulls left in the engine: the images of the test's repository (by tag or digest)
  if (registry != null) images.push(...(await exec('docker', ['images', '-q', '--no-trunc', `${registry.host}/floe-test/pulled-${suffix}`])).stdout.split('\n').filter(Boolean))
  for (const id of [...new Set(images)]) await exec('docker', ['rmi', '-f', id]).catch(() => {})
  expect(left, 'containers left behind').toEqual([])
}, 60_000)

describe('floe env pull', () => {
  it('pulls an image from a registry and publishes it; a second daemon fetches it as content and runs a job in it', async () => {
    const pulled = await floeJson(['env', 'pull', ref, '--name', `pulled-${suffix}`, '--home', client.home, '--json'])
    images.unshift(pulled.imageId)
    first = pulled
    expect(pulled).toMatchObject({ name: `pulled-${suffix}`, origin: 'pulled', held: true })
    expect(pulled.cid).toMatch(/^bafy/)
    const listed = await floeJson(['env', 'ls', '--home', client.home, '--json'])
    expect(listed).toContainEqual(expect.objectContaining({ name: `pulled-${suffix}`, cid: pulled.cid, origin: 'pulled', buildSeconds: expect.any(Number) }))
    // the recipes this node has not built are listed as such
    expect(listed).toContainEqual(expect.objectContaining({ name: 'pytorch-1.13-cpu', origin: 'recipe', held: false, cid: null, description: expect.stringContaining('floe env build --recipe pytorch-1.13-cpu') }))
    const table = await floe(['env', 'ls', '--home', client.home])
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME +ORIGIN +HELD +SIZE +TOOK /)
    expect(table.stdout).toMatch(new RegExp(`pulled-${suffix} +pulled +yes +[0-9.]+ [KM]iB +[0-9.]+ s `))
    // the provider's offer takes images (its Docker answered when it was made: under load a 5 s probe may not)
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers[0]?.offer.acceptsEnvironmentBytes, { timeout: 30_000 }).toBeGreaterThan(pulled.bytes)
    // the engine forgets it: the provider can only have it from the client's blocks
    await exec('docker', ['rmi', '-f', pulled.imageId])
    for (const tag of [ref]) await exec('docker', ['rmi', '-f', tag]).catch(() => {})

    const run = await runFollow(`pulled-${suffix}`, ['cat', '/etc/pulled.txt'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.job).toMatchObject({ state: 'success', provider: provider.endpoint.peerId, spec: { environment: `pulled-${suffix}`, image: { cid: pulled.cid, id: pulled.imageId } } })
    const logs = await floeJson(['logs', run.job.ref, '--home', client.home])
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line).join('\n')).toBe(text.trimEnd())
  }, 180_000)

  it('pulls by digest, showing progress, to the same image (named by its repository)', async () => {
    const byDigest = `${registry.host}/floe-test/pulled-${suffix}@${digest}`
    const result = await floe(['env', 'pull', byDigest, '--home', client.home])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(`pull: pulling ${byDigest}`)
    expect(result.stderr).toMatch(/pull: .*(Pull complete|Already exists|Digest: sha256)/)
    expect(result.stdout).toMatch(new RegExp(`^pulled-${suffix}  bafy`))
    // the name the pull by tag recorded, now the image pulled by digest (labelling makes a new image id): the same files
    const listed = (await floeJson(['env', 'ls', '--home', client.home, '--json'])).filter((e: any) => e.name === `pulled-${suffix}`)
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ origin: 'pulled', held: true, cid: result.stdout.split(/\s+/)[1] })
    expect(listed[0].cid).not.toBe(first.cid)
    images.unshift(listed[0].imageId)
    const { stdout } = await exec('docker', ['run', '--rm', '--network', 'none', listed[0].imageId, 'cat', '/etc/pulled.txt'])
    expect(stdout).toBe(text)
  }, 120_000)

  it('says clearly what is wrong: an unknown tag, a digest the registry lacks, a bad reference, an unreachable registry', async () => {
    const tag = await floe(['env', 'pull', `${registry.host}/floe-test/pulled-${suffix}:nosuchtag`, '--home', client.home])
    expect(tag.code).not.toBe(0)
    expect(tag.stderr).toContain(`${registry.host} has no image ${registry.host}/floe-test/pulled-${suffix}:nosuchtag`)
    // the progress line, then one line of error
    expect(tag.stderr.trim().split('\n')).toHaveLength(2)

    const repo = await floe(['env', 'pull', `${registry.host}/floe-test/nosuch-${suffix}:v1`, '--home', client.home])
    expect(repo.code).not.toBe(0)
    expect(repo.stderr).toContain('has no image')

    const wrongDigest = `sha256:${'0'.repeat(64)}`
    const digestResult = await floe(['env', 'pull', `${registry.host}/floe-test/pulled-${suffix}@${wrongDigest}`, '--home', client.home])
    expect(digestResult.code).not.toBe(0)
    expect(digestResult.stderr).toContain(`has no image with digest ${wrongDigest}`)

    for (const bad of ['Upper/Case:tag', 'name@sha256:abc', 'a//b', 'name:tag with space']) {
      const result = await floe(['env', 'pull', bad, '--home', client.home])
      expect(result.code, bad).not.toBe(0)
      expect(result.stderr, bad).toContain('is not an image reference')
    }

    const closed = await freePort()
    const down = await floe(['env', 'pull', `127.0.0.1:${closed}/floe-test/x:v1`, '--home', client.home])
    expect(down.code).not.toBe(0)
    expect(down.stderr).toContain(`cannot reach the registry 127.0.0.1:${closed}`)

    const names = (await floeJson(['env', 'ls', '--home', client.home, '--json'])).map((e: any) => e.name)
    expect(names).not.toContain('x')
  }, 120_000)
})
