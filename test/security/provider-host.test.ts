import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createApiClient } from '../../client/api-client.js'
import { HOME_SAVED } from '../../protocol/workspaces/tunnel.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { hostileClient, linesOf, type HostileClient } from '../helpers/hostile-client.js'

/**
 * A stranger's job or peer against the provider's host: every attack the security review
 * reproduced on a provider running as root (as ./scripts/start runs it), with the stock CLI
 * where that is enough and with a modified client (test/helpers/hostile-client.ts) where it
 * is not. Each checks that the host's canary is unread and unchanged, that the provider is
 * still up, and that the refusal is clear.
 */

const r = resources()
const clients = new Set<string>()
const hostiles: HostileClient[] = []
let provider: RunningDaemon
let canary: { dir: string, file: string, secret: string, mode: number, uid: number }

const MiB = 1024 * 1024

beforeAll(async () => {
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  clients.add(provider.endpoint.peerId)
  for (const [key, value] of [['max-input-cache', '100m'], ['max-output', '8m'], ['scratch', '24m'], ['max-files', '5000']] as Array<[string, string]>) {
    const set = await floe(['provider', 'set', key, value, '--home', provider.home])
    expect(set.code, set.stderr).toBe(0)
  }
  // The canary: a root-only folder and file on the host that no job may read, change or own.
  const dir = r.folder(await tempHome('floe-canary-'))
  const file = join(dir, 'secret')
  const secret = randomBytes(24).toString('hex')
  await writeFile(file, secret, { mode: 0o600 })
  await chmod(dir, 0o700)
  const stats = await stat(file)
  canary = { dir, file, secret, mode: stats.mode, uid: stats.uid }
})

afterEach(async () => {
  for (const client of hostiles.splice(0)) await client.stop()
})

afterAll(async () => {
  await r.cleanup()
  expect(await removeLeftContainers(clients), 'containers left behind').toEqual([])
})

async function expectCanaryIntact (): Promise<void> {
  const stats = await stat(canary.file)
  expect(stats.uid, 'the canary changed owner').toBe(canary.uid)
  expect(stats.mode, 'the canary changed mode').toBe(canary.mode)
  expect(await readFile(canary.file, 'utf8')).toBe(canary.secret)
  expect(await readdir(canary.dir), 'a file was dropped into the canary folder').toEqual(['secret'])
  expect((await stat(canary.dir)).uid).toBe(canary.uid)
}

async function expectProviderUp (): Promise<void> {
  const started = Date.now()
  const id = await floeJson(['id', '--home', provider.home])
  expect(id.peerId).toBe(provider.endpoint.peerId)
  expect(Date.now() - started).toBeLessThan(5_000)
}

async function runFollow (code: string, args: string[]): Promise<{ job: any, code: number | null, stderr: string }> {
  const result = await floe(['run', '--home', provider.home, '--path', code, '--json', '--follow', ...args], { timeoutMs: 90_000 })
  return { job: result.stdout === '' ? null : JSON.parse(result.stdout), code: result.code, stderr: result.stderr }
}

async function logText (ref: string): Promise<string> {
  const result = await floe(['logs', ref, '--home', provider.home])
  return result.stdout + result.stderr
}

async function connectHostile (): Promise<HostileClient> {
  const id = await floeJson(['id', '--home', provider.home])
  const client = await hostileClient({ peerId: id.peerId, address: id.addresses[0] })
  hostiles.push(client)
  return client
}

describe('a hostile job, sent with the stock CLI', () => {
  it('cannot mount host paths through links in uploaded content (l1 -> host dir, l2 -> ../jobs, l3 -> /proc)', async () => {
    const data = await r.codeFolder({ 'ok.txt': 'fine\n' }, { l1: canary.dir, l2: '../jobs', l3: '/proc' })
    const uploaded = await floeJson(['data', 'upload', data, '--name', 'links', '--home', provider.home])
    const api = createApiClient({ url: provider.endpoint.url, token: provider.token })
    const listing = await api.call('contentList', { cid: uploaded.cid, path: '' })
    const cidOf = (name: string): string => listing.entries.find(entry => entry.name === name)?.cid as string
    for (const [link, mount] of [['l1', '/victim'], ['l2', '/jobs'], ['l3', '/hostproc']] as const) {
      const code = await r.codeFolder({ 'run.sh': `cat ${mount}/secret; ls ${mount}; cat ${mount}/1/cmdline\n` })
      const run = await runFollow(code, ['--data', `${cidOf(link)}:${mount}`, '--', 'sh', 'run.sh'])
      expect(run.job.state, `${link}: ${JSON.stringify(run.job)}`).toBe('failed')
      expect(run.job.reason).toMatch(/symbolic link/)
      const log = await logText(run.job.ref)
      expect(log).not.toContain(canary.secret)
    }
    await expectCanaryIntact()
    await expectProviderUp()
  })

  it('cannot have host files handed to the job user through a link in its code folder', async () => {
    const code = await r.codeFolder({ 'run.sh': 'ls -la /code/; cat /code/v/secret; echo x > /code/v/dropped; id -u\n' }, { v: canary.dir })
    const run = await runFollow(code, ['--', 'sh', 'run.sh'])
    const log = await logText(run.job.ref)
    expect(log).not.toContain(canary.secret)
    expect(log).toContain('65534') // the job's own user, never the daemon's (root)
    await expectCanaryIntact()
  })

  it('is held to its disk: /output past the disk is refused by the kernel, and /output past max-output is not imported', async () => {
    const full = await runFollow(await r.codeFolder({ 'run.sh': 'head -c 200000000 /dev/zero > /output/big; echo exit=$?\n' }), ['--', 'sh', 'run.sh'])
    const fullLog = await logText(full.job.ref)
    expect(fullLog).toMatch(/exit=1/)
    expect(full.job.outputCid).toBeNull() // 32 MiB of /output cannot be imported under an 8 MiB max-output
    // 12 MiB fits the disk (24m scratch + 8m output) but not max-output (8m): nothing of it comes back
    const over = await runFollow(await r.codeFolder({ 'run.sh': 'head -c 12582912 /dev/zero > /output/big\n' }), ['--', 'sh', 'run.sh'])
    expect(over.job.state).toBe('failed')
    expect(over.job.reason).toMatch(/past the provider's max-output of 8388608 bytes, nothing was imported/)
    expect(over.job.outputCid).toBeNull()
    const root = await runFollow(await r.codeFolder({ 'run.sh': 'echo x > /etc/passwd-floe || echo refused\n' }), ['--', 'sh', 'run.sh'])
    expect(await logText(root.job.ref)).toContain('refused')
    await expectProviderUp()
  }, 150_000) // three jobs, one writing 200 MB (58 s in a loaded CI run)

  it('sees none of the provider\'s host paths in its mount table', async () => {
    const run = await runFollow(await r.codeFolder({ 'run.sh': 'cat /proc/self/mountinfo\n' }), ['--', 'sh', 'run.sh'])
    expect(run.job.state).toBe('success')
    const log = await logText(run.job.ref)
    expect(log).toContain('/code')
    expect(log).not.toContain(provider.home)
  })

  it('cannot make the provider write a DAG bomb to its input cache: a 1.1 MB CAR that expands to 1.5 GiB is refused before writing', async () => {
    const block = new Uint8Array(MiB).fill(7)
    const leaf = CID.createV1(raw.code, await sha256.digest(block))
    const file = new UnixFS({ type: 'file' })
    for (let i = 0; i < 1500; i++) file.addBlockSize(BigInt(MiB))
    const rootBytes = dagPb.encode(dagPb.prepare({ Data: file.marshal(), Links: Array.from({ length: 1500 }, () => ({ Hash: leaf, Tsize: MiB })) }))
    const root = CID.createV1(dagPb.code, await sha256.digest(rootBytes))
    const carPath = join(r.folder(await tempHome('floe-bomb-')), 'bomb.car')
    const { writer, out } = CarWriter.create([root])
    const chunks: Uint8Array[] = []
    const collected = (async () => { for await (const chunk of out) chunks.push(chunk) })()
    await writer.put({ cid: root, bytes: rootBytes })
    await writer.put({ cid: leaf, bytes: block })
    await writer.close()
    await collected
    await writeFile(carPath, Buffer.concat(chunks))
    expect((await stat(carPath)).size).toBeLessThan(1.2 * MiB)
    const imported = await floe(['data', 'import', carPath, '--home', provider.home])
    expect(imported.code, imported.stderr).toBe(0)

    const run = await runFollow(await r.codeFolder({ 'run.sh': 'ls -la /data\n' }), ['--data', `${root.toString()}:/data`, '--', 'sh', 'run.sh'])
    expect(run.job.state).toBe('failed')
    expect(run.job.reason).toMatch(/holds more than 104857600 bytes/)
    const cache = join(provider.home, 'provider', 'inputs')
    const written = await sizeOf(cache)
    expect(written).toBeLessThan(2 * MiB)
    await expectProviderUp()
  })
})

describe('a modified client', () => {
  it('cannot have a link bound as the job\'s code: a code root that is a symlink (to a host folder, or to ../../inputs) is refused', async () => {
    const client = await connectHostile()
    for (const target of [canary.dir, '../../inputs']) {
      const code = await client.symlink(target)
      const { messages } = await client.submit({ code, command: ['sh', '-c', 'echo root::0:0::/:/bin/sh >> /code/passwd; echo x > /code/dropped; cat /code/secret'] })
      const finished = messages.find(message => message.type === 'finished')
      const lines = linesOf(messages).join('\n')
      expect(lines, target).not.toContain(canary.secret)
      expect(finished ?? messages.find(m => m.type === 'refused'), target).toBeDefined()
      expect(lines + JSON.stringify(messages.filter(m => m.type === 'refused'))).toMatch(/symbolic link/)
    }
    await expectCanaryIntact()
    const inputs = join(provider.home, 'provider', 'inputs')
    expect((await readdir(inputs).catch(() => [])).filter(name => name === 'dropped' || name === 'passwd')).toEqual([])
    await expectProviderUp()
  })

  it('cannot steal the provider\'s key through a workspace save: a job swapping folders for links to the provider\'s home, in its home and in /code, while they are saved', async () => {
    const client = await connectHostile()
    const code = await client.folder({})
    // both folders a save imports (workspace-save.ts), each raced on its own
    const swap = `s() { cd "$1"; mkdir -p d; echo benign > d/f; while :; do mv d d.real; ln -s ${provider.home} d; rm d; mv d.real d; done; }; s /code & s /home/floe`
    const { messages } = await client.submit({
      code,
      command: ['sh', '-c', swap],
      timeoutSeconds: 120,
      workspace: { home: null, idleTimeoutSeconds: 600, snapshotSeconds: 2 }
    }, { cancelAfterMs: 9_000, timeoutMs: 90_000 })
    const saved = linesOf(messages).flatMap(line => line.startsWith(HOME_SAVED) ? [line.slice(HOME_SAVED.length).trim().split(' ')[0] as string] : [])
    expect(messages.find(message => message.type === 'finished')).toBeDefined()
    expect(saved.length, linesOf(messages).join('\n')).toBeGreaterThan(0)
    const key = await readFile(join(provider.home, 'identity.key'))
    const token = await readFile(join(provider.home, 'api-token'), 'utf8')
    // the race ran in both folders: some save caught its real folder in each
    const raced = new Set<string>()
    for (const cid of saved) {
      const dest = join(r.folder(await tempHome('floe-saved-')), 'home')
      const got = await floe(['data', 'get', cid, dest, '--home', provider.home])
      expect(got.code, got.stderr).toBe(0)
      expect((await readdir(dest)).sort()).toEqual(['.floe-workspace', 'code', 'home'])
      for (const folder of ['code', 'home']) {
        for (const name of ['d', 'd.real']) if (existsSync(join(dest, folder, name, 'f'))) raced.add(folder)
      }
      for (const bytes of await filesUnder(dest)) {
        expect(bytes.includes(key), `snapshot ${cid} holds the provider's identity key`).toBe(false)
        expect(bytes.toString('utf8')).not.toContain(token.trim())
      }
    }
    expect([...raced].sort()).toEqual(['code', 'home'])
    await expectProviderUp()
  })

  it('cannot make a file bigger than it declares: blocks of 1 MiB declared as 1 byte each are written as declared', async () => {
    const client = await connectHostile()
    const leaf = await client.putRaw(new Uint8Array(MiB).fill(9))
    const file = new UnixFS({ type: 'file' })
    for (let i = 0; i < 200; i++) file.addBlockSize(1n)
    const liar = await client.putNode({ Data: file.marshal(), Links: Array.from({ length: 200 }, () => ({ Hash: leaf, Tsize: 1 })) })
    const code = await client.folder({ 'big.bin': liar })
    const { messages } = await client.submit({ code, command: ['wc', '-c', '/code/big.bin'] })
    expect(linesOf(messages)).toContain('200 /code/big.bin')
    expect(messages.find(message => message.type === 'finished')).toBeDefined()
    await expectProviderUp()
  })
})

/** Every regular file's bytes under `dir`, walked without following links. */
async function filesUnder (dir: string): Promise<Buffer[]> {
  const found: Buffer[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...await filesUnder(path))
    else if (entry.isFile()) found.push(await readFile(path))
  }
  return found
}

async function sizeOf (dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += await sizeOf(path)
    else total += (await stat(path).catch(() => ({ size: 0 }))).size
  }
  return total
}


