import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, expect } from 'vitest'
import { ApiEndpoint, homePaths } from '../../protocol/home.js'
import { containersOf, removeContainers } from './containers.js'

/** The built executable: tests drive floe exactly as a user does. */
export const FLOE_BIN = resolve(import.meta.dirname, '../../dist/bin/floe.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * `node floe.js ARGS…`, inside a network namespace when one is named (see netns.ts). Entered with
 * `nsenter --net` rather than `ip netns exec`, which also makes a private mount namespace: a
 * provider's job disk (a loop mount) made there would be invisible to dockerd, which would bind
 * the empty folder beneath it.
 */
function command (args: string[], netns?: string): [string, string[]] {
  return netns == null ? [process.execPath, [FLOE_BIN, ...args]] : ['nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, FLOE_BIN, ...args]]
}

/** Runs `floe ARGS…` to completion. */
export async function floe (args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number, netns?: string, cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(...command(args, options.netns), {
    env: { ...process.env, ...options.env },
    ...(options.cwd != null ? { cwd: options.cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 30_000
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  return { code, stdout, stderr }
}

export async function floeJson<T = any> (args: string[], options: { netns?: string, cwd?: string } = {}): Promise<T> {
  const result = await floe([...args, '--json'], options)
  if (result.code !== 0) throw new Error(`floe ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

/** `floe ARGS --json --home D`, which must succeed: its answer. */
export async function floeAt<T = any> (d: Pick<RunningDaemon, 'home'>, ...args: string[]): Promise<T> {
  return await floeJson<T>([...args, '--home', d.home])
}

/** `floe ARGS --home D`, which must fail: its error, trimmed. */
export async function floeFails (d: Pick<RunningDaemon, 'home'>, ...args: string[]): Promise<string> {
  const result = await floe([...args, '--home', d.home])
  expect(result.code, result.stdout).not.toBe(0)
  return result.stderr.trim()
}

export interface RunningDaemon {
  home: string
  process: ChildProcess
  endpoint: ApiEndpoint
  token: string
  /** stderr so far */
  output(): string
  /** resolves with the exit code */
  exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Daemon flags for tests: loopback only, ephemeral ports, no multicast. */
export const TEST_DAEMON_FLAGS = ['--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/**
 * Starts `floe daemon` on a home and waits until its API endpoint is published. `flags`
 * replaces TEST_DAEMON_FLAGS; `netns` runs it in a network namespace; `env` adds variables.
 */
export async function startDaemon (home: string, extraArgs: string[] = [], options: { flags?: string[], netns?: string, env?: NodeJS.ProcessEnv } = {}): Promise<RunningDaemon> {
  const paths = homePaths(home)
  const child = spawn(...command(['daemon', '--home', home, ...(options.flags ?? TEST_DAEMON_FLAGS), ...extraArgs], options.netns), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env }
  })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  let exitCode: number | null | undefined
  void exited.then(code => { exitCode = code })
  const deadline = Date.now() + 30_000
  while (true) {
    if (exitCode !== undefined) throw new Error(`floe daemon exited with ${exitCode} before it was ready:\n${stderr}`)
    if (existsSync(paths.apiEndpoint)) {
      const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
      if (endpoint.pid === child.pid) {
        return {
          home,
          process: child,
          endpoint,
          token: readFileSync(paths.apiToken, 'utf8').trim(),
          output: () => stderr,
          exited,
          async stop (signal = 'SIGTERM') {
            if (exitCode !== undefined) return exitCode
            child.kill(signal)
            return await exited
          }
        }
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`floe daemon did not publish its API within 30 s:\n${stderr}`)
    }
    await sleep(50)
  }
}

/** A temporary folder for each test, removed at the end whatever happens. */
export async function tempHome (prefix = 'floe-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

/** What `resources()` gives a test file: what to clean up, and daemons and folders made for it. */
export interface Resources {
  /** registers a daemon to stop at clean-up */
  daemon(d: RunningDaemon): RunningDaemon
  /** registers a folder to remove at clean-up */
  folder(path: string): string
  /** stops every daemon (SIGKILL), unmounts and removes every folder */
  cleanup(): Promise<void>
  /**
   * peer ids of every daemon started through `start`/`startAt`, kept across tests, so a
   * file's `afterAll` can check none of their containers was left behind
   */
  started: Set<string>
  /** `floe daemon FLAGS…` on a new temporary home */
  start(...flags: string[]): Promise<RunningDaemon>
  /** `floe daemon FLAGS…` on a given home (a restart keeps the home) */
  startAt(home: string, ...flags: string[]): Promise<RunningDaemon>
  /** a temporary code folder holding `files` (name → text) and symlinks `links` (name → target) */
  codeFolder(files?: Record<string, string>, links?: Record<string, string>): Promise<string>
}

/**
 * Collects daemons and folders to clean up; call `cleanup()` in afterEach so a failing test
 * leaves no process or folder behind (it registers its own beforeEach and afterEach, which
 * remove the containers a failed test started). Its `start`, `startAt` and `codeFolder` make what the
 * integration tests share, each registered for clean-up.
 */
export function resources (): Resources {
  const daemons: RunningDaemon[] = []
  const folders: string[] = []
  const started = new Set<string>()
  // A failed attempt (one that timed out under load, say) may have killed a provider mid-job,
  // whose container runs on: what it started is removed before the retry, so the file's
  // afterAll check counts only what passing tests left behind. Containers from before the test
  // (a workspace its file started in beforeAll) stay for the retry.
  let before = new Set<string>()
  beforeEach(async () => { before = new Set(await containersOf(started)) })
  afterEach(async ({ task }) => {
    if (task.result?.state !== 'fail') return
    await removeContainers((await containersOf(started)).filter(id => !before.has(id))).catch(() => {})
  })
  const r: Resources = {
    daemon (d) { daemons.push(d); return d },
    folder (path) { folders.push(path); return path },
    async cleanup () {
      await Promise.all(daemons.splice(0).map(async d => await d.stop('SIGKILL')))
      // twice: a daemon killed while its `mount` child ran leaves that child to finish the mount after the first pass
      for (const pass of [1, 2]) {
        for (const folder of folders) await unmountUnder(folder)
        await Promise.all(folders.map(async f => { await rm(f, { recursive: true, force: true }).catch(err => { if (pass === 2) throw err }) }))
      }
      folders.splice(0)
    },
    started,
    async start (...flags) { return await r.startAt(r.folder(await tempHome()), ...flags) },
    async startAt (home, ...flags) {
      const d = r.daemon(await startDaemon(home, flags))
      started.add(d.endpoint.peerId)
      return d
    },
    async codeFolder (files = { 'train.sh': 'echo training\n' }, links = {}) {
      const dir = r.folder(await tempHome('floe-code-'))
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
      for (const [name, target] of Object.entries(links)) await symlink(target, join(dir, name))
      return dir
    }
  }
  return r
}

/** A daemon's first dialable address (`/ip4/…/tcp/…/p2p/…`), as `floe id` prints it. */
export async function addr (d: Pick<RunningDaemon, 'home'>): Promise<string> {
  return (await floeJson(['id', '--home', d.home])).addresses[0]
}

/** Connects `client` to `provider` and waits (15 s at most) until the provider's offer has reached it. */
export async function connectToProvider (client: Pick<RunningDaemon, 'home'>, provider: Pick<RunningDaemon, 'home' | 'endpoint'>): Promise<void> {
  await floeJson(['connect', await addr(provider), '--home', client.home])
  // (expect.poll works inside tests only)
  for (const deadline = Date.now() + 15_000; !(await floeJson(['providers', '--home', client.home])).providers.some((p: any) => p.offer.peerId === provider.endpoint.peerId);) {
    if (Date.now() > deadline) throw new Error('the provider\'s offer did not reach the client')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/**
 * Detaches every mount under `folder`: a provider killed mid-job leaves its jobs' disks
 * mounted (a restarted one would use them again), which a test's clean-up must undo.
 */
export async function unmountUnder (folder: string): Promise<void> {
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const prefix = folder.endsWith('/') ? folder : `${folder}/`
  const mounts = table.split('\n').map(line => line.split(' ')[4] ?? '').filter(mount => mount.startsWith(prefix))
  for (const mount of mounts.sort().reverse()) {
    await new Promise<void>(resolve => { spawn('umount', ['-l', mount], { stdio: 'ignore' }).on('close', () => { resolve() }).on('error', () => { resolve() }) })
  }
}
