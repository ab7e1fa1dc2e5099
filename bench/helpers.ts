// Shared pieces of the benchmarks: daemons on loopback driven through the real CLI.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createApiClient } from '../client/api-client.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'

export const FLOE_BIN = resolve(import.meta.dirname, '../bin/floe.js')

const exec = promisify(execFile)

export interface BenchDaemon {
  home: string
  peerId: string
  child: ChildProcess
  stop(): Promise<void>
}

/** Mount points at or below `dir`, deepest first (from the kernel's table; octal escapes undone). */
function mountsUnder (dir: string): string[] {
  const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)))
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map(line => unescape(line.split(' ')[4] ?? ''))
    .filter(point => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
}

/**
 * What a provider daemon leaves on purpose when it stops (it takes its jobs up again on
 * restart): the containers it labelled, and its jobs' loop-mounted disks. A benchmark's home
 * is thrown away, so they go with it.
 */
async function removeProviderLeftovers (home: string, peerId: string): Promise<void> {
  if (!existsSync(join(home, 'provider', 'jobs'))) return
  const { stdout } = await exec('docker', ['ps', '-aq', '--filter', `label=org.floe.provider=${peerId}`])
  const ids = stdout.split('\n').filter(id => id !== '')
  if (ids.length > 0) await exec('docker', ['rm', '-f', ...ids])
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin`
  for (const point of mountsUnder(home)) await exec('umount', ['-l', point], { env: { ...process.env, PATH: path } })
}

/** A daemon on a fresh home (API and libp2p on loopback, mDNS off), resolved once its API answers. */
export async function startBenchDaemon (home?: string, extraArgs: string[] = []): Promise<BenchDaemon> {
  const dir = home ?? await mkdtemp(join(tmpdir(), 'floe-bench-'))
  const paths = homePaths(dir)
  const child = spawn(process.execPath, [FLOE_BIN, 'daemon', '--home', dir, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--log-level', 'warn', ...extraArgs], { stdio: ['ignore', 'ignore', 'inherit'] })
  let peerId: string
  while (true) {
    try {
      const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
      peerId = (await createApiClient({ url: endpoint.url, token: readFileSync(paths.apiToken, 'utf8').trim() }).call('id', {})).peerId
      break
    } catch {
      if (child.exitCode != null) {
        if (home == null) await rm(dir, { recursive: true, force: true })
        throw new Error(`daemon exited with ${child.exitCode}`)
      }
      await sleep(20)
    }
  }
  return {
    home: dir,
    peerId,
    child,
    async stop () {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
        await new Promise(resolve => child.once('exit', resolve))
      }
      if (home == null) {
        await removeProviderLeftovers(dir, peerId)
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
}

/** Runs `floe ARGS… --json` and returns its parsed output. */
export async function floeJson (args: string[]): Promise<any> {
  const child = spawn(process.execPath, [FLOE_BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', chunk => { out += chunk })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`floe ${args.join(' ')} exited ${String(code)}`)
  return JSON.parse(out)
}

/** Milliseconds `run` takes. */
export async function timed (run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await run()
  return performance.now() - t0
}

export function mib (bytes: number): number {
  return bytes / (1024 * 1024)
}
