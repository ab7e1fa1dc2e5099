import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { buildWheel, servePipIndex, type PipIndex } from '../helpers/pip-index.js'

/**
 * A job's requirements.txt becomes a derived environment, built on the client's machine
 * (with the network, from a package index on loopback serving a wheel the test built),
 * cached, published as content; the job itself runs offline and imports the package.
 * The python-3.11 recipe comes from the engine's recipe cache when this machine built it once.
 */
const exec = promisify(execFile)
const r = resources()
const suffix = randomBytes(4).toString('hex')
const VALUE = `from the local index ${suffix}`
const images: string[] = []

let index: PipIndex
let node: RunningDaemon

/**
 * `floe run --follow` (not --json: the build's progress is on stderr, the job's stdout on
 * stdout), then the job as `floe status JOB --json` gives it.
 */
async function run (args: string[]): Promise<{ code: number | null, stderr: string, job: any, stdout: string }> {
  const result = await floe(['run', '--home', node.home, '--follow', ...args], { timeoutMs: 600_000 })
  const ref = /floe: (\S+) submitted/.exec(result.stderr)?.[1]
  if (ref == null) return { code: result.code, stderr: result.stderr, job: null, stdout: '' }
  const job = await floeJson(['status', ref, '--home', node.home, '--json'])
  return { code: result.code, stderr: result.stderr, job, stdout: result.stdout.trimEnd() }
}

const IMPORT = ['python3', '-c', 'import floetestpkg; print(floetestpkg.VALUE)']

beforeAll(async () => {
  const work = r.folder(await tempHome('floe-wheel-'))
  const wheel = await buildWheel(work, 'floetestpkg', '1.0', `VALUE = ${JSON.stringify(VALUE)}\n`)
  index = await servePipIndex({ floetestpkg: [wheel] })
  const home = r.folder(await tempHome())
  await writeFile(join(home, 'config.json'), JSON.stringify({ pip: { indexUrl: index.url } }))
  node = await r.startAt(home, '--provider')
  const python = await floe(['env', 'build', '--recipe', 'python-3.11', '--json', '--home', node.home], { timeoutMs: 20 * 60_000 })
  expect(python.code, python.stderr).toBe(0)
}, 25 * 60_000)

afterAll(async () => {
  const left = await removeLeftContainers(r.started)
  await r.cleanup()
  await index?.close()
  for (const id of [...new Set(images)]) await exec('docker', ['rmi', '-f', id]).catch(() => {})
  expect(left, 'containers left behind').toEqual([])
}, 60_000)

describe('requirements.txt', () => {
  it('becomes a derived environment built here with the network, and the job imports the package offline', async () => {
    // a new requirements text each attempt: a retry builds again
    const nonce = randomBytes(4).toString('hex')
    const code = await r.codeFolder({ 'requirements.txt': `# a floe test ${suffix} ${nonce}\nfloetestpkg==1.0\n` })
    const first = await run(['--path', code, '--env', 'python-3.11', '--', ...IMPORT])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toContain(`build: building environment for ${join(code, 'requirements.txt')} on python-3.11`)
    expect(first.job.spec.environment).toMatch(/^python-3\.11-req-[0-9a-f]{12}$/)
    expect(first.job.spec.network).toBe(false)
    expect(first.job.state, first.stdout).toBe('success')
    expect(first.stdout).toBe(VALUE)
    expect(index.requests).toContain('/files/floetestpkg-1.0-py3-none-any.whl')
    const derived = (await floeJson(['env', 'ls', '--home', node.home, '--json'])).find((e: any) => e.name === first.job.spec.environment)
    expect(derived).toMatchObject({ origin: 'built', cid: first.job.spec.image.cid, description: `python-3.11 with ${join(code, 'requirements.txt')}` })
    expect(derived.buildSeconds).toBeGreaterThan(0)
    images.push(derived.imageId)

    // the second submit reuses it: no build, no request to the index, the same environment
    const asked = index.requests.length
    const second = await run(['--path', code, '--env', 'python-3.11', '--', ...IMPORT])
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain(`build: environment for ${join(code, 'requirements.txt')}: cached (${first.job.spec.environment}, ${derived.cid})`)
    expect(second.stderr).not.toContain('building environment')
    expect(index.requests.length).toBe(asked)
    expect(second.job.spec).toMatchObject({ environment: first.job.spec.environment, image: { cid: first.job.spec.image.cid } })
    expect(second.stdout).toBe(VALUE)

    // --requirements FILE names the file; --no-requirements runs in the base as it is
    const elsewhere = r.folder(await tempHome('floe-req-'))
    await writeFile(join(elsewhere, 'reqs.txt'), `# a floe test ${suffix} ${nonce}\nfloetestpkg==1.0\n`)
    const byFile = await run(['--path', await r.codeFolder({ 'run.sh': 'true\n' }), '--requirements', join(elsewhere, 'reqs.txt'), '--env', 'python-3.11', '--', ...IMPORT])
    expect(byFile.code, byFile.stderr).toBe(0)
    expect(byFile.stdout).toBe(VALUE)
    const without = await run(['--path', code, '--no-requirements', '--env', 'python-3.11', '--', ...IMPORT])
    expect(without.job.spec.environment).toBe('python-3.11')
    expect(without.job.state).toBe('failed')
    expect(without.code).not.toBe(0)
  }, 15 * 60_000)

  it('says clearly what went wrong: a package the index lacks, a missing file, a base without pip or not held here', async () => {
    const missing = await run(['--path', await r.codeFolder({ 'requirements.txt': `nosuchpkg-${suffix}==1.0\n` }), '--env', 'python-3.11', '--', 'true'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/No matching distribution found for nosuchpkg/)
    expect(missing.stderr.trim().split('\n').at(-1)).toMatch(/^floe run: docker build failed: .*returned a non-zero code/)

    const noFile = await run(['--path', await r.codeFolder(), '--requirements', '/nonexistent/reqs.txt', '--', 'true'])
    expect(noFile.code).not.toBe(0)
    expect(noFile.stderr).toContain('/nonexistent/reqs.txt does not exist (--requirements FILE)')

    // busybox (floe's image) has no Python: held here once built
    await floeJson(['env', 'build', '--recipe', 'busybox', '--home', node.home])
    const noPip = await run(['--path', await r.codeFolder({ 'requirements.txt': 'floetestpkg==1.0\n' }), '--env', 'busybox', '--', 'true'])
    expect(noPip.code).not.toBe(0)
    expect(noPip.stderr).toContain('floe: this environment has no pip (python3 -m pip)')

    const notHeld = await run(['--path', await r.codeFolder({ 'requirements.txt': 'floetestpkg==1.0\n' }), '--env', 'nosuch-env', '--', 'true'])
    expect(notHeld.code).not.toBe(0)
    expect(notHeld.stderr).toContain('on this machine, which does not hold it')
  }, 10 * 60_000)
})
