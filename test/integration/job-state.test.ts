import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClassicLevel } from 'classic-level'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { JOB_SILENCE_MS } from '../../protocol/jobs/wire.js'
import { REATTACH_WINDOW_MS } from '../../daemon/jobs/job-runner.js'
import { containersOf, removeLeftContainers } from '../helpers/containers.js'
import { floe, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

/**
 * One truth per job's state: a daemon that stalls (SIGSTOP of the whole process, as a memory
 * flood stalls its loop) must not call its own running job lost, and a record that says lost
 * while the provider still runs the job is followed again, so that stop works.
 */
const r = resources()
const clients = new Set<string>()
let frozen: RunningDaemon | undefined
afterEach(async () => {
  if (frozen != null) frozen.process.kill('SIGCONT')
  frozen = undefined
  await r.cleanup()
})
afterAll(async () => {
  expect(await removeLeftContainers(clients), 'containers left behind').toEqual([])
})

async function provider (home?: string): Promise<RunningDaemon> {
  const d = r.daemon(await startDaemon(home ?? r.folder(await tempHome()), ['--provider']))
  clients.add(d.endpoint.peerId)
  return d
}

async function status (d: RunningDaemon, ref: string): Promise<any> {
  const result = await floe(['status', ref, '--home', d.home, '--json'])
  if (result.code !== 0) throw new Error(result.stderr)
  return JSON.parse(result.stdout)
}

/** a job that runs until stopped, submitted and running on the daemon's own provider */
async function longJob (d: RunningDaemon): Promise<string> {
  const code = r.folder(await tempHome('floe-code-'))
  const run = await floe(['run', '--home', d.home, '--path', code, '--json', '--', 'sh', '-c', 'echo started; sleep 300'])
  expect(run.code, run.stderr).toBe(0)
  const { ref } = JSON.parse(run.stdout)
  await expect.poll(async () => (await status(d, ref)).state, { timeout: 30_000, interval: 300 }).toBe('running')
  // the container itself has started (the provider says running just before it starts it)
  await expect.poll(async () => (await floe(['logs', ref, '--home', d.home])).stdout, { timeout: 30_000, interval: 300 }).toContain('started')
  return ref
}

describe('a job\'s state after a stall', () => {
  it('a daemon frozen past the heartbeat timeout keeps its own provider\'s job running, and stop then stops it', async () => {
    const d = await provider()
    const ref = await longJob(d)
    frozen = d
    d.process.kill('SIGSTOP')
    // longer than silence and the reattach window together: a remote provider would be lost by now
    await sleep(JOB_SILENCE_MS + REATTACH_WINDOW_MS + 2_000)
    d.process.kill('SIGCONT')
    frozen = undefined
    // its timers run late now; give them a few heartbeats to (wrongly) decide
    await sleep(4_000)
    const job = await status(d, ref)
    expect(job.state, JSON.stringify(job) + d.output().slice(-3000)).toBe('running')
    expect(job.attempts.map((a: any) => a.outcome)).toEqual(['accepted'])
    expect(await containersOf([d.endpoint.peerId])).toHaveLength(1)

    const stopped = await floe(['stop', ref, '--home', d.home])
    expect(stopped.code, stopped.stderr).toBe(0)
    expect((await status(d, ref)).state).toBe('stopped')
  })

  it('a record that says lost while the provider runs the job is followed again at restart, and stop works', async () => {
    const home = r.folder(await tempHome())
    let d = await provider(home)
    const ref = await longJob(d)
    const { jobId } = await status(d, ref)
    // the daemon stops; its job runs on in its container
    expect(await d.stop('SIGTERM')).toBe(0)
    // the record as a stalled daemon left it: lost, "went silent"
    const index = new ClassicLevel<string, string>(join(home, 'index'))
    const record = JSON.parse(await index.get(`job!${jobId}`) as string)
    const at = new Date().toISOString()
    const reason = `provider ${record.provider} went silent`
    Object.assign(record, { state: 'lost', reason })
    record.states.push({ state: 'lost', at })
    record.attempts.push({ provider: record.provider, outcome: 'lost', reason, at })
    await index.put(`job!${jobId}`, JSON.stringify(record))
    await index.close()

    d = await provider(home)
    await expect.poll(async () => (await status(d, ref)).state, { timeout: 20_000, interval: 300 }).toBe('running')
    const job = await status(d, ref)
    expect(job.reason).toBeNull()
    expect(job.attempts.map((a: any) => a.outcome)).toEqual(['accepted', 'lost', 'accepted'])
    expect(job.attempts[2].reason).toMatch(/^followed again \(the daemon started\): the provider still has the job, running/)
    expect(d.output()).toMatch(/a job called lost is still on its provider: following it again/)

    const stopped = await floe(['stop', ref, '--home', d.home])
    expect(stopped.code, stopped.stderr).toBe(0)
    expect((await status(d, ref)).state).toBe('stopped')
    // the project log tells the same story (newest first): started, lost, started again, finished (stopped)
    await expect.poll(async () => (await floe(['log', '--home', d.home, '--project', job.project])).stdout, { timeout: 10_000 }).toMatch(/job 1 finished\n.*job 1 started on .*\n.*job 1 lost on .*\n.*job 1 started on/)
  })
})
