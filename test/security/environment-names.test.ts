import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectToProvider, floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { removeLeftContainers } from '../helpers/containers.js'

// Environment names belong to the provider: an image a stranger's job brings (or another
// daemon on the same engine loads) never stands for a name the provider's jobs ask for.

const exec = promisify(execFile)
const r = resources()
const suffix = randomBytes(4).toString('hex')
/** image ids and tags this file made or made floe make, removed at the end */
const images: string[] = []
const tagsToRemove: string[] = []

let provider: RunningDaemon
let stranger: RunningDaemon
let victim: RunningDaemon

const HOSTILE_MARK = `HOSTILE-${suffix}`

async function imageId (ref: string): Promise<string | null> {
  try {
    return (await exec('docker', ['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()
  } catch {
    return null
  }
}

/** An image FROM scratch + Debian's static busybox, built without network; returns its id. */
async function buildBusyboxImage (dockerfileTail: string, tag?: string): Promise<string> {
  const dir = r.folder(await tempHome('floe-hostile-'))
  await copyFile('/bin/busybox', join(dir, 'busybox'))
  await writeFile(join(dir, 'Dockerfile'), [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    'RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/code", "/output", "/home/floe"]',
    dockerfileTail
  ].join('\n') + '\n')
  const { stdout } = await exec('docker', ['build', '--network', 'none', '-q', ...(tag != null ? ['-t', tag] : []), dir])
  const id = stdout.trim().split('\n').pop() as string
  images.unshift(id)
  return id
}

async function runOn (client: RunningDaemon, args: string[]): Promise<{ job: any, code: number | null, stderr: string }> {
  const code = r.folder(await tempHome('floe-code-'))
  await writeFile(join(code, 'run.sh'), 'echo code\n')
  const result = await floe(['run', '--home', client.home, '--path', code, '--provider', provider.endpoint.peerId, '--json', '--follow', ...args], { timeoutMs: 90_000 })
  return { job: result.stdout === '' ? null : JSON.parse(result.stdout), code: result.code, stderr: result.stderr }
}

/** The image the provider ran a job in, as its log says, resolved to an id. */
async function imageRun (jobId: string): Promise<string | null> {
  const accepted = provider.output().split('\n').filter(l => l.includes('"job accepted"') && l.includes(jobId))
  expect(accepted).toHaveLength(1)
  return await imageId(JSON.parse(accepted[0] as string).image)
}

/** A victim's job in `busybox`: it must run in `ownImage`, untouched by the hostile image. */
async function victimRunsIn (ownImage: string): Promise<void> {
  const run = await runOn(victim, ['--env', 'busybox', '--', 'sh', '-c', 'echo victim-ran; echo victim-output > /output/result.txt'])
  expect(run.code, run.stderr).toBe(0)
  expect(run.job).toMatchObject({ state: 'success', provider: provider.endpoint.peerId, spec: { environment: 'busybox' } })
  expect(run.job.spec.image).toBeUndefined()
  expect(await imageRun(run.job.jobId ?? run.job.id)).toBe(ownImage)
  const logs = await floeJson(['logs', run.job.ref, '--home', victim.home])
  const text = logs.lines.map((l: any) => l.line).join('\n')
  expect(text).toContain('victim-ran')
  expect(text).not.toContain(HOSTILE_MARK)
  const dest = r.folder(await tempHome('floe-out-'))
  await floe(['output', run.job.ref, join(dest, 'out'), '--home', victim.home])
  expect((await readdir(join(dest, 'out'))).sort()).toEqual(['result.txt'])
}

beforeAll(async () => {
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  stranger = r.daemon(await startDaemon(r.folder(await tempHome())))
  victim = r.daemon(await startDaemon(r.folder(await tempHome())))
  await connectToProvider(stranger, provider)
  await connectToProvider(victim, provider)
}, 120_000)

afterAll(async () => {
  const peers = [stranger, victim].filter(d => d != null).map(d => d.endpoint.peerId)
  await r.cleanup()
  await removeLeftContainers(peers)
  for (const tag of tagsToRemove) await exec('docker', ['rmi', tag]).catch(() => {})
  for (const id of images) await exec('docker', ['rmi', '-f', id]).catch(() => {})
}, 60_000)

describe('environment names', () => {
  it('a stranger\'s job that brings an image labelled busybox does not take over the provider\'s busybox', async () => {
    const setUp = await imageId('floe/busybox')
    expect(setUp).not.toBeNull()
    // the provider's owner also publishes the set-up image as busybox (a record: floe-env/busybox:<id>)
    const ownTag = `floe-env/busybox:${(setUp as string).slice(7, 19)}`
    if (await imageId(ownTag) == null) tagsToRemove.push(ownTag)
    const published = await floeJson(['env', 'publish', 'floe/busybox', '--name', 'busybox', '--home', provider.home])
    expect(published.imageId).toBe(setUp)

    // The stranger's image: labelled busybox, an entrypoint that tampers with the output and
    // marks the log. Its id is made to sort after the provider's, so a "last one wins" choice
    // among images labelled busybox picks it.
    let hostile = ''
    for (let nonce = 0; hostile.slice(7, 19) <= (setUp as string).slice(7, 19); nonce++) {
      if (nonce >= 200) throw new Error('could not build a hostile image whose id sorts after the provider\'s')
      hostile = await buildBusyboxImage([
        `LABEL org.floe.environment="busybox" org.floe.test-nonce="${suffix}-${nonce}"`,
        'WORKDIR /code',
        `ENTRYPOINT ["/bin/sh", "-c", "echo ${HOSTILE_MARK}; echo tampered > /output/tampered; exec \\"$@\\"", "entry"]`,
        'CMD ["/bin/sh"]'
      ].join('\n'))
    }
    // published by the stranger as busybox, then gone from Docker: the provider must fetch it
    const brought = await floeJson(['env', 'publish', hostile, '--name', 'busybox', '--home', stranger.home])
    expect(brought.imageId).toBe(hostile)
    await exec('docker', ['rmi', '-f', hostile])
    const strangers = await runOn(stranger, ['--env', 'busybox', '--', 'true'])
    expect(strangers.code, strangers.stderr).toBe(0)
    expect(strangers.job.receipt.environment.fetchedBytes).toBeGreaterThan(0)
    expect(await imageId(hostile)).toBe(hostile)

    // the victim (holding no busybox of its own) asks for busybox: the provider's image runs
    await victimRunsIn(setUp as string)
    // and the provider still lists its own busybox only, and builds on it
    const listed = (await floeJson(['env', 'ls', '--home', provider.home])).filter((e: any) => e.name === 'busybox' && e.origin !== 'fetched')
    expect(listed.map((e: any) => e.imageId)).toEqual([setUp])
    const offer = (await floeJson(['provider', 'show', '--home', provider.home])).offer
    expect(offer.environments).toContain('busybox')

    // the provider's owner forgets the record: the set-up's floe/busybox is busybox again, never the fetched one
    await floeJson(['env', 'rm', 'busybox', '--home', provider.home])
    await new Promise(resolve => setTimeout(resolve, 5_500)) // the provider's view of its images lasts 5 s
    await victimRunsIn(setUp as string)
  }, 240_000)

  it('a provider offers only the environments it installed, not every labelled image in a shared engine', async () => {
    // what other floe daemons on the engine leave: a published or loaded image, a fetched one,
    // and one built FROM an environment (it inherits the label, under another name)
    const stray = `stray-${suffix}`
    const loaded = await buildBusyboxImage(`LABEL org.floe.environment="${stray}"`, `floe-env/${stray}:${suffix}`)
    const fetched = await buildBusyboxImage(`LABEL org.floe.environment="fetched-${suffix}"`)
    await exec('docker', ['tag', fetched, `floe-fetched:${fetched.slice(7)}`])
    await buildBusyboxImage(`LABEL org.floe.environment="inherited-${suffix}"`, `floe-test-tools/tool-${suffix}:latest`)
    expect(await imageId(`floe-env/${stray}:${suffix}`)).toBe(loaded)
    // the provider announces afresh (a settings change) and its offer is read back
    await floeJson(['provider', 'set', 'max-jobs', '3', '--home', provider.home])
    await expect.poll(async () => (await floeJson(['provider', 'show', '--home', provider.home])).offer?.maxConcurrentJobs, { timeout: 10_000 }).toBe(3)
    const offer = (await floeJson(['provider', 'show', '--home', provider.home])).offer
    expect(offer.environments).toContain('busybox')
    expect(offer.environments.filter((name: string) => name.includes(suffix))).toEqual([])
    const names = (await floeJson(['env', 'ls', '--home', provider.home])).map((e: any) => e.name)
    expect(names.filter((name: string) => name.includes(suffix))).toEqual([])
    // and a job asking for the stray name is refused: the provider holds no such environment
    const run = await runOn(victim, ['--env', stray, '--', 'true'])
    expect(run.code).not.toBe(0)
  }, 120_000)
})
