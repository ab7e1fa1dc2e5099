import type Docker from 'dockerode'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDockerClient } from '../../daemon/market/resources/docker.js'
import { createJobContainer, followJobContainer, type LogLine, type Runtime } from '../../daemon/provider/executor.js'
import { jobPlans } from '../helpers/job-plan.js'

/**
 * The basics a hostile job tries first, under each runtime a provider may use: runc (the
 * host's kernel, namespaces and cgroups) and runsc (gVisor's user-space kernel). Both must
 * hold a job to the same rules; what a job sees differs (gVisor answers for the kernel), so
 * each check reads the outcome, not a runtime's wording.
 */

let docker: Docker
const plans = jobPlans(() => docker)

beforeAll(async () => { docker = await createDockerClient() })
afterEach(async () => { await plans.cleanup() })

async function run (runtime: Runtime, script: string, overrides: { pidsLimit?: number, memoryBytes?: number, timeoutMs?: number } = {}): Promise<{ exitCode: number | null, out: string, err: string, oomKilled: boolean }> {
  const plan = await plans.planFor(script, { runtime, pidsLimit: overrides.pidsLimit, memoryBytes: overrides.memoryBytes ?? 128 * 1024 * 1024 })
  const id = await createJobContainer(docker, plan)
  const lines: LogLine[] = []
  const outcome = await followJobContainer(docker, id, { timeoutMs: overrides.timeoutMs ?? 30_000, onLog: line => { lines.push(line) } })
  const text = (stream: string): string => lines.filter(line => line.stream === stream).map(line => line.line).join('\n')
  return { exitCode: outcome.exitCode, out: text('stdout'), err: text('stderr'), oomKilled: outcome.oomKilled }
}

describe.each(['runc', 'runsc'] as const)('a hostile job under %s', { timeout: 90_000 }, runtime => {
  it('has no capabilities, no network but loopback, no Docker socket, not root, and a read-only root file system', async () => {
    const { out } = await run(runtime, [
      "grep -E '^CapEff' /proc/self/status",
      "cat /proc/net/dev | grep ':' | cut -d: -f1 | tr -d ' ' | tr '\\n' ','; echo",
      'ls /var/run/docker.sock /run/docker.sock 2>/dev/null || echo no-socket',
      'id -u',
      'echo x > /bin/pwned 2>/dev/null || echo root-ro',
      'chown 0 /output 2>/dev/null || echo no-chown',
      'mknod /tmp/dev c 1 1 2>/dev/null || echo no-mknod',
      'mount -t tmpfs none /tmp 2>/dev/null || echo no-mount'
    ].join('; '))
    const lines = out.split('\n')
    expect(lines).toContain('CapEff:\t0000000000000000')
    expect(lines.find(line => line.endsWith(','))?.split(',').filter(name => name !== '')).toEqual(['lo'])
    expect(lines).toEqual(expect.arrayContaining(['no-socket', '65534', 'root-ro', 'no-chown', 'no-mknod', 'no-mount']))
  })

  it('runs with no-new-privileges: a setuid binary gives it nothing', async () => {
    const id = await createJobContainer(docker, await plans.planFor('true', { runtime }))
    const info = await docker.getContainer(id).inspect()
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges')
    expect(info.HostConfig.CapDrop).toEqual(['ALL'])
    expect(info.HostConfig.Privileged).toBe(false)
    expect(info.HostConfig.ReadonlyRootfs).toBe(true)
    expect(info.HostConfig.Runtime).toBe(runtime)
  })

  it('cannot fork past its pids limit (a fork bomb stops the job, not the host)', async () => {
    // The bomb in a subshell, which ash leaves on its first failed fork; its progress kept
    // with builtins only, as no fork is left to spare. Under runsc the limit binds gVisor's own
    // threads too (it needs some 100 to start), and a sandbox at its limit ends the job.
    const { out, exitCode } = await run(runtime, '( i=0; while [ $i -lt 300 ]; do sleep 5 & i=$((i+1)); echo $i > /tmp/count; done ) 2>/dev/null; read n < /tmp/count; echo started=$n', { pidsLimit: 128, timeoutMs: 20_000 })
    const started = Number(/started=(\d+)/.exec(out)?.[1] ?? 0)
    expect(started, out).toBeLessThan(128)
    if (runtime === 'runc') expect(started, out).toBeGreaterThan(64)
    else expect(started > 64 || exitCode !== 0, out).toBe(true)
  })

  it('cannot change the forwarding helper at /.floe/busybox (the host\'s own busybox, bound read-only), though it runs it', async () => {
    const { out } = await run(runtime, [
      'B=/.floe/busybox',
      'echo x > $B 2>/dev/null || echo no-write',
      'rm -f $B 2>/dev/null || echo no-remove',
      'chmod 4777 $B 2>/dev/null || echo no-chmod',
      'mount -o remount,rw $B 2>/dev/null || echo no-remount',
      'touch /.floe/other 2>/dev/null || echo no-create',
      '$B echo helper-runs'
    ].join('; '))
    expect(out.split('\n')).toEqual(expect.arrayContaining(['no-write', 'no-remove', 'no-chmod', 'no-remount', 'no-create', 'helper-runs']))
  })

  it('cannot take more memory than its limit', async () => {
    const { exitCode } = await run(runtime, 'head -c 200000000 /dev/zero | tail -c 150000000 > /dev/null', { memoryBytes: 32 * 1024 * 1024 })
    expect(exitCode).not.toBe(0)
  })
})
