import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type Docker from 'dockerode'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDockerClient } from '../../daemon/market/resources/docker.js'
import {
  CLIENT_LABEL, createJobContainer, DEFAULT_PIDS_LIMIT, ExecutorError, followJobContainer, JOB_LABEL,
  listJobContainers, MAX_LINE_BYTES, NOBODY, removeJobContainer,
  type ContainerOutcome, type ContainerPlan, type FollowOptions, type LogLine
} from '../../daemon/provider/executor.js'
import { jobPlans, TEST_CLIENT, TEST_PROVIDER } from '../helpers/job-plan.js'

const CLIENT = TEST_CLIENT
const PROVIDER = TEST_PROVIDER

let docker: Docker
const plans = jobPlans(() => docker)
const { planFor, inputFolder } = plans

beforeAll(async () => {
  // The daemon's own client, with its 5 s request timeout: following must survive it.
  docker = await createDockerClient()
})

afterEach(async () => { await plans.cleanup() })

interface Run {
  id: string
  outcome: ContainerOutcome
  lines: LogLine[]
}

async function run (plan: ContainerPlan, options: Partial<FollowOptions> = {}): Promise<Run> {
  const id = await createJobContainer(docker, plan)
  const lines: LogLine[] = []
  const outcome = await followJobContainer(docker, id, {
    timeoutMs: 20_000,
    onLog: line => { lines.push(line) },
    ...options
  })
  return { id, outcome, lines }
}

function text (lines: LogLine[], stream?: 'stdout' | 'stderr'): string[] {
  return lines.filter(line => stream == null || line.stream === stream).map(line => line.line)
}

describe('the job executor', { timeout: 30_000 }, () => {
  it('runs a job whose /output files the host reads back, and reports its exit code', async () => {
    const before = Date.now()
    const plan = await planFor('echo hi > /output/a; exit 3')
    const { outcome } = await run(plan)
    expect(outcome).toMatchObject({ ending: 'exited', exitCode: 3, oomKilled: false })
    expect(await readFile(join(plan.outputDir, 'a'), 'utf8')).toBe('hi\n')
    expect(outcome.startedAt).toBeGreaterThanOrEqual(before - 1_000)
    expect(outcome.exitedAt).toBeGreaterThanOrEqual(outcome.startedAt)
  })

  it('delivers stdout and stderr lines in order with their stream, cutting long lines and keeping an unterminated last one', async () => {
    const plan = await planFor([
      'echo one', 'sleep 0.1', 'echo two >&2', 'sleep 0.1', 'echo three', "printf 'crlf\\r\\n'",
      "head -c 100000 /dev/zero | tr '\\0' a", 'echo', 'printf tail'
    ].join('; '))
    const { outcome, lines } = await run(plan)
    expect(outcome.exitCode).toBe(0)
    expect(lines.map(line => [line.stream, line.line.length > 20 ? `${line.line.length} bytes` : line.line])).toEqual([
      ['stdout', 'one'],
      ['stderr', 'two'],
      ['stdout', 'three'],
      ['stdout', 'crlf'],
      ['stdout', `${MAX_LINE_BYTES} bytes`],
      ['stdout', `${100_000 - MAX_LINE_BYTES} bytes`],
      ['stdout', 'tail']
    ])
    for (const [index, line] of lines.entries()) {
      expect(line.at).toBeGreaterThanOrEqual(outcome.startedAt)
      expect(line.at).toBeGreaterThanOrEqual(lines[index - 1]?.at ?? 0)
    }
  })

  it('delivers lines while the job runs, through a silence longer than the Docker client\'s request timeout', async () => {
    const plan = await planFor('echo first; sleep 6; echo second')
    // a client that gives up on a silent answer after 2 s: the log stream breaks and is opened again
    const impatient = await createDockerClient({ timeoutMs: 2_000 })
    const id = await createJobContainer(impatient, plan)
    const seen: Array<{ line: string, receivedAt: number }> = []
    const outcome = await followJobContainer(impatient, id, {
      timeoutMs: 20_000,
      onLog: line => { seen.push({ line: line.line, receivedAt: Date.now() }) }
    })
    expect(outcome).toMatchObject({ ending: 'exited', exitCode: 0 })
    expect(seen.map(entry => entry.line)).toEqual(['first', 'second'])
    expect(seen[0]?.receivedAt).toBeLessThan(outcome.exitedAt - 4_000)
  })

  it('kills a job that runs past its time limit', async () => {
    const plan = await planFor('sleep 30')
    const began = Date.now()
    const { outcome } = await run(plan, { timeoutMs: 1_500 })
    expect(outcome).toMatchObject({ ending: 'timeout', exitCode: 137 })
    expect(Date.now() - began).toBeLessThan(10_000)
  })

  it('stops a job when asked, with SIGTERM first', async () => {
    const plan = await planFor('trap "echo terminated; exit 143" TERM; echo ready; while true; do sleep 1; done')
    const stop = new AbortController()
    const lines: string[] = []
    const { outcome } = await run(plan, {
      stop: stop.signal,
      onLog: line => {
        lines.push(line.line)
        if (line.line === 'ready') stop.abort()
      }
    })
    expect(outcome).toMatchObject({ ending: 'stopped', exitCode: 143 })
    expect(lines).toEqual(['ready', 'terminated'])
  })

  it('does not start a job stopped before it began', async () => {
    const plan = await planFor('echo never')
    const { outcome, lines } = await run(plan, { stop: AbortSignal.abort() })
    expect(outcome).toMatchObject({ ending: 'stopped', exitCode: null, startedAt: 0 })
    expect(lines).toEqual([])
  })

  it('holds a job to its disk: the root file system is read-only, and /output, /code, /tmp share a hard size and file limit', async () => {
    const plan = await planFor([
      'echo x > /etc/x 2>/dev/null || echo root-ro',
      'echo x > /bin/x 2>/dev/null || echo bin-ro',
      'head -c 200000000 /dev/zero > /output/big 2>/dev/null || echo output-full',
      'rm /output/big',
      'head -c 200000000 /dev/zero > /tmp/big 2>/dev/null || echo tmp-full',
      'rm /tmp/big',
      'head -c 200000000 /dev/zero > /code/big 2>/dev/null || echo code-full',
      'rm /code/big',
      'i=0; while [ $i -lt 5000 ]; do echo -n 2>/dev/null >/tmp/f$i || { echo inodes-out; break; }; i=$((i+1)); done',
      'df -k /output | tail -1'
    ].join('; '))
    const { outcome, lines } = await run(plan)
    expect(outcome.exitCode, text(lines).join('\n')).toBe(0)
    const out = text(lines, 'stdout')
    expect(out.slice(0, 5)).toEqual(['root-ro', 'bin-ro', 'output-full', 'tmp-full', 'code-full'])
    expect(out).toContain('inodes-out')
    // nothing past the disk reached the host: the whole disk is about 48 MiB
    expect(Number(out.at(-1)?.trim().split(/\s+/)[1])).toBeLessThan(64 * 1024)
  })

  it('mounts inputs read-only', async () => {
    const input = await inputFolder()
    await writeFile(join(input, 'data.txt'), 'input bytes\n')
    const plan = await planFor('cat /data/data.txt; echo changed > /data/data.txt', { inputs: [{ hostPath: input, mount: '/data' }] })
    const { outcome, lines } = await run(plan)
    expect(outcome.exitCode).not.toBe(0)
    expect(text(lines, 'stdout')).toEqual(['input bytes'])
    expect(text(lines, 'stderr').join('\n')).toMatch(/Read-only/)
    expect(await readFile(join(input, 'data.txt'), 'utf8')).toBe('input bytes\n')
  })

  it('isolates the job: loopback only, no capabilities, no new privileges, its own user, a working /tmp, the planned limits', async () => {
    const plan = await planFor("cat /proc/net/dev; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; id -u; echo x > /tmp/x && echo tmp-ok; pwd", {
      cpus: 0.5,
      memoryBytes: 64 * 1024 * 1024
    })
    const { id, outcome, lines } = await run(plan)
    expect(outcome.exitCode).toBe(0)
    const out = text(lines, 'stdout')
    const interfaces = out.filter(line => line.includes(':') && !line.includes('|') && !/^(Cap|NoNew)/.test(line)).map(line => line.split(':')[0]?.trim())
    expect(interfaces).toEqual(['lo'])
    expect(out).toContain('CapEff:\t0000000000000000')
    expect(out).toContain('CapBnd:\t0000000000000000')
    expect(out).toContain('NoNewPrivs:\t1')
    expect(out).toContain(NOBODY.split(':')[0])
    expect(out).toContain('tmp-ok')
    expect(out.at(-1)).toBe('/code')

    const { HostConfig: host, Config: config } = await docker.getContainer(id).inspect()
    expect(host).toMatchObject({
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: DEFAULT_PIDS_LIMIT,
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      NanoCpus: 500_000_000,
      AutoRemove: false,
      LogConfig: { Type: 'json-file' }
    })
    expect(host.Binds?.join(' ')).not.toMatch(/docker\.sock/)
    expect(config).toMatchObject({ User: NOBODY, WorkingDir: '/code', Tty: false })
    expect(host.ReadonlyRootfs).toBe(true)
  })

  it('reports the CPU time and memory a job used', async () => {
    const plan = await planFor('end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do :; done')
    const { outcome } = await run(plan)
    expect(outcome.exitCode).toBe(0)
    expect(outcome.usage.cpuSeconds).toBeGreaterThan(0.1)
    expect(outcome.usage.peakMemoryBytes).toBeGreaterThan(0)
  })

  it('reports a job killed for memory', async () => {
    // The shell outlives the killed `tail` a moment: Docker learns of the OOM kill and of the
    // container's exit by separate events, and an exit handled first leaves OOMKilled false
    // (on a loaded machine a second was once not enough).
    const plan = await planFor('head -c 100000000 /dev/zero | tail -c 60000000 > /dev/null; code=$?; sleep 3; exit $code', { memoryBytes: 16 * 1024 * 1024 })
    const { outcome } = await run(plan)
    expect(outcome.oomKilled).toBe(true)
    expect(outcome.exitCode).not.toBe(0)
  })

  it('follows again after detaching, from the last line seen, keeping the running job and its outcome', async () => {
    const plan = await planFor('echo one; sleep 1; echo two; sleep 1; echo three; exit 5')
    const id = await createJobContainer(docker, plan)
    const detach = new AbortController()
    const first: LogLine[] = []
    const options = { timeoutMs: 20_000 }
    await expect(followJobContainer(docker, id, {
      ...options,
      detach: detach.signal,
      onLog: line => {
        first.push(line)
        detach.abort()
      }
    })).rejects.toMatchObject({ name: 'AbortError' })
    expect(text(first)).toEqual(['one'])
    expect((await listJobContainers(docker)).find(container => container.id === id)?.running).toBe(true)

    const second: LogLine[] = []
    const outcome = await followJobContainer(docker, id, { ...options, logsSince: first[0]?.at, onLog: line => { second.push(line) } })
    expect(outcome).toMatchObject({ ending: 'exited', exitCode: 5 })
    expect(text(second)).toEqual(['two', 'three'])

    // Once more on the exited container: nothing new, the same outcome.
    const third: LogLine[] = []
    const again = await followJobContainer(docker, id, { ...options, logsSince: second.at(-1)?.at, onLog: line => { third.push(line) } })
    expect(again).toMatchObject({ ending: 'exited', exitCode: 5, startedAt: outcome.startedAt, exitedAt: outcome.exitedAt })
    expect(third).toEqual([])
  })

  it('reports a command missing from the image as a failure to start', async () => {
    const plan = await planFor('unused', { command: ['no-such-command'] })
    const attempt = run(plan)
    await expect(attempt).rejects.toThrow(ExecutorError)
    await expect(attempt).rejects.toThrow(/could not start container .*no-such-command/)
  })

  it('labels job containers, lists them and removes them', async () => {
    const plan = await planFor('true')
    const id = await createJobContainer(docker, plan)
    const listed = (await listJobContainers(docker)).find(container => container.id === id)
    expect(listed).toEqual({ id, jobId: plan.jobId, client: CLIENT, running: false })
    expect((await listJobContainers(docker, PROVIDER)).map(c => c.id)).toContain(id)
    expect((await listJobContainers(docker, 'another provider')).map(c => c.id)).not.toContain(id)
    const { Config: config } = await docker.getContainer(id).inspect()
    expect(config.Labels).toMatchObject({ [JOB_LABEL]: plan.jobId, [CLIENT_LABEL]: CLIENT })
    await removeJobContainer(docker, id)
    expect((await listJobContainers(docker)).some(container => container.id === id)).toBe(false)
    await removeJobContainer(docker, id)
  })

  it('refuses bad mounts, and names a missing image', async () => {
    const input = await inputFolder()
    const refusals: Array<[Partial<ContainerPlan>, RegExp]> = [
      [{ inputs: [{ hostPath: input, mount: 'data' }] }, /not an absolute path/],
      [{ inputs: [{ hostPath: input, mount: '/code' }] }, /reserved/],
      [{ inputs: [{ hostPath: input, mount: '/output/x' }] }, /reserved/],
      [{ inputs: [{ hostPath: input, mount: '/data/../code' }] }, /not a plain path/],
      [{ inputs: [{ hostPath: input, mount: '/proc/x' }] }, /kernel/],
      [{ inputs: [{ hostPath: input, mount: '/data' }, { hostPath: input, mount: '/data/' }] }, /given twice/],
      [{ inputs: [{ hostPath: 'relative/path', mount: '/data' }] }, /not absolute/],
      [{ inputs: [{ hostPath: join(input, 'missing'), mount: '/data' }] }, /does not exist/],
      [{ inputs: [{ hostPath: input, mount: '/var/run/docker.sock' }] }, /Docker socket/],
      [{ inputs: [{ hostPath: input, mount: '/tmp' }] }, /scratch/],
      [{ inputs: [{ hostPath: '/var/run/docker.sock', mount: '/data' }] }, /not inside/],
      [{ inputs: [{ hostPath: '/run', mount: '/data' }] }, /not inside/],
      [{ inputs: [{ hostPath: join(input, '..', '..'), mount: '/data' }] }, /not inside/],
      [{ codeDir: '/etc' }, /not inside/],
      [{ image: 'floe/no-such-image:1' }, /image floe\/no-such-image:1 is not on this machine/]
    ]
    for (const [overrides, message] of refusals) {
      const attempt = createJobContainer(docker, await planFor('true', overrides))
      await expect(attempt, JSON.stringify(overrides)).rejects.toThrow(ExecutorError)
      await expect(attempt, JSON.stringify(overrides)).rejects.toThrow(message)
    }
  })
})
