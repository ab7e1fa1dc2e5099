// Shared pieces of the benchmarks: daemons on loopback driven through the real CLI.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createApiClient } from '../client/api-client.js'
import { ApiEndpoint, homePaths } from '../protocol/home.js'

export const FLOE_BIN = resolve(import.meta.dirname, '../bin/floe.js')

export interface BenchDaemon {
  home: string
  child: ChildProcess
  stop(): Promise<void>
}

/** A daemon on a fresh home (API and libp2p on loopback, mDNS off), resolved once its API answers. */
export async function startBenchDaemon (home?: string, extraArgs: string[] = []): Promise<BenchDaemon> {
  const dir = home ?? await mkdtemp(join(tmpdir(), 'floe-bench-'))
  const paths = homePaths(dir)
  const child = spawn(process.execPath, [FLOE_BIN, 'daemon', '--home', dir, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--log-level', 'warn', ...extraArgs], { stdio: ['ignore', 'ignore', 'inherit'] })
  while (true) {
    try {
      const endpoint = ApiEndpoint.parse(JSON.parse(readFileSync(paths.apiEndpoint, 'utf8')))
      await createApiClient({ url: endpoint.url, token: readFileSync(paths.apiToken, 'utf8').trim() }).call('id', {})
      break
    } catch {
      if (child.exitCode != null) throw new Error(`daemon exited with ${child.exitCode}`)
      await sleep(20)
    }
  }
  return {
    home: dir,
    child,
    async stop () {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
      if (home == null) await rm(dir, { recursive: true, force: true })
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
