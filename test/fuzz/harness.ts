import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { expect } from 'vitest'
import type { RunningDaemon } from '../helpers/floe.js'

/**
 * The fuzz suite's common parts: one fixed seed per run (FUZZ_SEED overrides it, and is
 * printed when a property fails so the failure can be replayed), bounded runs, and the
 * checks every property ends with.
 */
export const FUZZ_SEED = process.env.FUZZ_SEED != null && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) : 0x5eed

/**
 * The daemon's resident memory may grow to this while fuzzed: an idle daemon holds about
 * 150–200 MiB here (libp2p, Helia, level); 512 MiB leaves room for buffers in flight and
 * catches a leak or an unbounded buffer (a 128 KiB frame kept per socket, a body read whole).
 */
export const RSS_BUDGET_BYTES = 512 * 1024 * 1024
/** `floe id` must answer within this while the daemon is being fuzzed. */
export const ID_DEADLINE_MS = 2_000

/** Runs a property with the suite's seed, at most `runs` times and `ms` long; names the seed on failure. */
export async function fuzz<T> (name: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, bounds: { runs: number, ms: number }): Promise<void> {
  try {
    await fc.assert(fc.asyncProperty(arbitrary, check), {
      seed: FUZZ_SEED,
      numRuns: bounds.runs,
      interruptAfterTimeLimit: bounds.ms,
      markInterruptAsFailure: false,
      endOnFailure: true
    })
  } catch (err: any) {
    console.error(`fuzz "${name}" failed: replay with FUZZ_SEED=${FUZZ_SEED}`)
    throw new Error(`fuzz "${name}" failed with FUZZ_SEED=${FUZZ_SEED}: ${err?.message as string}`)
  }
}

export function rssBytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:')) ?? ''
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024
}

/** The daemon runs, answers what `floe id` asks within ID_DEADLINE_MS, and stays in its memory budget. */
export async function healthy (d: RunningDaemon): Promise<void> {
  expect(d.process.exitCode, `the daemon exited (FUZZ_SEED=${FUZZ_SEED}):\n${d.output().slice(-4000)}`).toBeNull()
  const started = Date.now()
  const res = await fetch(`${d.endpoint.url}/api/v1/id`, { headers: { authorization: `Bearer ${d.token}` }, signal: AbortSignal.timeout(ID_DEADLINE_MS) })
  expect(res.status).toBe(200)
  expect(((await res.json()) as { peerId: string }).peerId).toBe(d.endpoint.peerId)
  expect(Date.now() - started).toBeLessThan(ID_DEADLINE_MS)
  expect(rssBytes(d.process.pid as number)).toBeLessThan(RSS_BUDGET_BYTES)
}

/** What the user has stored: datasets and projects, as the API lists them. */
export async function storedState (d: RunningDaemon): Promise<unknown> {
  const get = async (path: string): Promise<unknown> => await (await fetch(`${d.endpoint.url}${path}`, { headers: { authorization: `Bearer ${d.token}` } })).json()
  return { datasets: await get('/api/v1/datasets'), projects: await get('/api/v1/projects') }
}

/** Error-level lines in the daemon's log: a fault, not a refusal of bad input. */
export const errorLines = (d: RunningDaemon): string[] => d.output().split('\n').filter(line => /"level":50/.test(line))
