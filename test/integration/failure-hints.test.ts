import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { connectToProvider, floe, floeJson, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

/** A job that fails for a cause floe knows says so, in its log (a system line) and its status reason. */
const exec = promisify(execFile)
const r = resources()
const suffix = randomBytes(4).toString('hex')
const images: string[] = []

let client: RunningDaemon
let provider: RunningDaemon

async function failed (args: string[]): Promise<{ job: any, system: string[] }> {
  const result = await floe(['run', '--home', client.home, '--path', await r.codeFolder({ 'run.sh': 'true\n' }), '--json', '--follow', ...args], { timeoutMs: 120_000 })
  expect(result.stdout, result.stderr).not.toBe('')
  const job = JSON.parse(result.stdout)
  expect(job.state, JSON.stringify(job)).toBe('failed')
  const logs = await floeJson(['logs', job.ref, '--home', client.home])
  return { job, system: logs.lines.filter((l: any) => l.stream === 'system').map((l: any) => l.line) }
}

beforeAll(async () => {
  client = await r.start()
  provider = await r.start('--provider')
  await connectToProvider(client, provider)
}, 120_000)

afterAll(async () => {
  const left = await removeLeftContainers(r.started)
  await r.cleanup()
  for (const id of [...new Set(images)]) await exec('docker', ['rmi', '-f', id]).catch(() => {})
  expect(left, 'containers left behind').toEqual([])
}, 60_000)

describe('failure hints', () => {
  it('the network is off: busybox wget says bad address / Network is unreachable / No route to host', async () => {
    const lookup = await failed(['--', 'wget', '-O-', 'http://example.com/'])
    expect(lookup.job.reason).toMatch(/^the job has no network \(jobs run offline unless they ask for it\), and its output says "wget: bad address 'example\.com'": .*requirements\.txt.*--network/)
    expect(lookup.system).toContain(lookup.job.reason)
    const connect = await failed(['--', 'wget', '-O-', 'http://1.2.3.4/'])
    // runc says Network is unreachable, runsc (gVisor) No route to host
    expect(connect.job.reason).toMatch(/its output says "wget: can't connect to remote host \(1\.2\.3\.4\): (Network is unreachable|No route to host)"/)
    expect(connect.job.reason).toMatch(/\(exit code 1\)$/)
  }, 180_000)

  it('the command is not in the image: as the program, and through sh -c', async () => {
    const direct = await failed(['--', 'python3', 'train.py'])
    expect(direct.job.reason).toMatch(/^command "python3" is not in environment busybox: .*floe run --env NAME.*floe env ls.*python-3\.11/)
    expect(direct.system).toContain(direct.job.reason)
    const shell = await failed(['--', 'pip install -r requirements.txt'])
    expect(shell.job.spec.command).toEqual(['sh', '-c', 'pip install -r requirements.txt'])
    expect(shell.job.reason).toMatch(/^command "pip" is not in environment busybox \(exit code 127\)/)
  }, 180_000)

  it('the image has no shell for a command floe runs through sh -c', async () => {
    // an empty image with one static binary, and no /bin/sh
    const dir = r.folder(await tempHome('floe-image-'))
    await copyFile('/bin/busybox', join(dir, 'busybox'))
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY busybox /busybox\nCMD ["/busybox"]\n')
    const tag = `floe-test-noshell/noshell-${suffix}:1`
    await exec('docker', ['build', '--network', 'none', '-q', '-t', tag, dir])
    const published = await floeJson(['env', 'publish', tag, '--name', `noshell-${suffix}`, '--home', client.home])
    images.push(published.imageId, tag)
    // the provider's offer takes images (its Docker answered when it was made: under load a 5 s probe may not)
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers[0]?.offer.acceptsEnvironmentBytes, { timeout: 30_000 }).toBeGreaterThan(published.bytes)
    // the binary runs as itself
    const ok = await floe(['run', '--home', client.home, '--path', await r.codeFolder(), '--json', '--follow', '--env', `noshell-${suffix}`, '--', '/busybox', 'echo', 'hi'], { timeoutMs: 120_000 })
    expect(JSON.parse(ok.stdout).state, ok.stderr).toBe('success')
    const noShell = await failed(['--env', `noshell-${suffix}`, '--', 'echo hi there'])
    expect(noShell.job.reason).toMatch(new RegExp(`^environment noshell-${suffix} has no shell \\(sh\\): a command with spaces or shell syntax runs through sh -c; give the program and its arguments as separate words after --`))
  }, 180_000)
})
