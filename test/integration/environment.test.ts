import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('the set-up scripts', () => {
  it('leave a Docker engine that runs the local floe/busybox image with networking off', async () => {
    const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', 'floe/busybox', 'sh', '-c', 'echo hello from floe; ls /sys/class/net'])
    expect(stdout).toBe('hello from floe\nlo\n')
    const { stdout: label } = await run('docker', ['image', 'inspect', '--format', '{{ index .Config.Labels "org.floe.environment" }}', 'floe/busybox'])
    expect(label.trim()).toBe('busybox')
  })
})
