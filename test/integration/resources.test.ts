import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectDocker, detectResources, ENVIRONMENT_LABEL } from '../../daemon/market/resources/index.js'

/** Runs a command with `input` on its stdin; its stdout, or a rejection with its stderr. */
async function run (command: string, args: string[], input: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = execFile(command, args, (err, stdout, stderr) => { if (err != null) reject(new Error(`${command} ${args.join(' ')}: ${stderr}`)); else resolve(stdout) })
    child.stdin?.end(input)
  })
}

describe('resources against the real Docker engine', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-resources-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('finds the engine, its version, and the floe/busybox environment', async () => {
    const docker = await detectDocker()
    if (!docker.available) throw new Error(`expected a running engine: ${docker.error}`)
    expect(docker.version).toMatch(/^\d+\.\d+/)
    expect(docker.apiVersion).toMatch(/^\d+\.\d+$/)
    expect(docker.environments).toContainEqual(expect.objectContaining({ name: 'busybox', image: 'floe/busybox:latest' }))
    const busybox = docker.environments.find(env => env.image === 'floe/busybox:latest')
    const inspected = await new Docker().getImage('floe/busybox:latest').inspect()
    expect(busybox).toEqual({ name: 'busybox', image: 'floe/busybox:latest', id: inspected.Id, sizeBytes: inspected.Size })
    expect(inspected.Config.Labels?.[ENVIRONMENT_LABEL]).toBe('busybox')
  })

  it('lists only images installed by hand as environments: labelled NAME and tagged …/NAME, outside floe\'s own repositories', async () => {
    // images of this test's own, so what else the engine holds (other tests', the recipe cache) does not matter
    const suffix = randomBytes(4).toString('hex')
    const made: string[] = []
    const image = async (label: string | null, tag: string): Promise<string> => {
      const dockerfile = `FROM floe/busybox:latest\n${label != null ? `LABEL ${ENVIRONMENT_LABEL}=${label}\n` : ''}LABEL org.floe.test=${suffix}-${made.length}\n`
      const built = await run('docker', ['build', '--network', 'none', '-q', '-t', tag, '-'], dockerfile)
      made.push(tag)
      return built.trim()
    }
    try {
      const hand = await image(`res-${suffix}`, `floe-test/res-${suffix}:v1`)
      const floeOwn = [
        await image(`env-${suffix}`, `floe-env/env-${suffix}:x`),
        await image(`recipe-${suffix}`, `floe-recipe/recipe-${suffix}:0123abcd`),
        await image(`fetched-${suffix}`, `floe-fetched:${suffix}`)
      ]
      const unlabelled = await image(null, `floe-test/plain-${suffix}:v1`)
      const otherName = await image(`named-${suffix}`, `floe-test/other-${suffix}:v1`)
      const docker = await detectDocker()
      if (!docker.available) throw new Error(`expected a running engine: ${docker.error}`)
      expect(docker.environments.filter(env => env.name.endsWith(suffix))).toEqual([
        { name: `res-${suffix}`, image: `floe-test/res-${suffix}:v1`, id: hand, sizeBytes: expect.any(Number) }
      ])
      const ids = docker.environments.map(env => env.id)
      for (const id of [...floeOwn, unlabelled, otherName]) expect(ids).not.toContain(id)
      // and whatever else the engine holds: each listed image is tagged as its name, outside floe's repositories
      for (const env of docker.environments) {
        const repository = env.image.slice(0, env.image.lastIndexOf(':'))
        expect(repository.split('/').pop()).toBe(env.name)
        expect(repository.split('/')[0]).not.toMatch(/^floe-(env|recipe|fetched)$/)
      }
    } finally {
      await run('docker', ['rmi', '-f', ...made], '').catch(() => {})
    }
  })

  it('reports an engine at a socket that does not exist as unavailable, without throwing', async () => {
    const socketPath = join(dir, 'no-such-docker.sock')
    const docker = await detectDocker({ docker: new Docker({ socketPath }) })
    expect(docker).toEqual({ available: false, error: expect.any(String), environments: [] })
    if (docker.available) return
    expect(docker.error).toBe(`Docker engine not reachable (connect ENOENT ${socketPath}); check that dockerd is running and that this user may use its socket`)
  })

  it('gives up on an engine that accepts but never answers, within its timeout', async () => {
    const socketPath = join(dir, 'silent.sock')
    const sockets = new Set<Socket>()
    const server: Server = createServer(socket => { sockets.add(socket) })
    await new Promise<void>(resolve => server.listen(socketPath, resolve))
    try {
      const started = Date.now()
      const docker = await detectDocker({ docker: new Docker({ socketPath }), timeoutMs: 300 })
      expect(docker).toEqual({
        available: false,
        error: 'Docker engine not reachable (no answer within 0.3 s); check that dockerd is running and that this user may use its socket',
        environments: []
      })
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  })

  it('detects everything together for a home not created yet', async () => {
    const home = join(dir, 'home')
    const resources = await detectResources({ home, run: async () => { throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }) } })
    expect(resources.cpu.cores).toBeGreaterThanOrEqual(1)
    expect(resources.memory.availableBytes).toBeGreaterThan(0)
    expect(resources.disk).toMatchObject({ path: home })
    expect(resources.disk.freeBytes).toBeGreaterThan(0)
    expect(resources.gpu).toEqual({ gpus: [] })
    expect(resources.docker.available).toBe(true)
    expect(resources.docker.environments.map(env => env.name)).toContain('busybox')
  })

  it('still detects the rest when the engine is away', async () => {
    const resources = await detectResources({ home: dir, docker: new Docker({ socketPath: join(dir, 'gone.sock') }) })
    expect(resources.docker.available).toBe(false)
    expect(resources.cpu.cores).toBeGreaterThanOrEqual(1)
    expect(resources.disk.freeBytes).toBeGreaterThan(0)
  })
})
