import { chmod, copyFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { checkHelper } from '../../../../daemon/provider/helper-binary.js'
import { jobBinds } from '../../../../daemon/provider/job-mounts.js'
import { execCommand } from '../../../../daemon/provider/tunnel-server.js'
import { decodeJobSpec, encodeJobSpec, HELPER_BINARY, mountProblem, type JobSpec } from '../../../../protocol/jobs/spec.js'
import { decodeTunnelMessage, encodeTunnelMessage } from '../../../../protocol/workspaces/tunnel.js'

const folders: string[] = []
afterEach(async () => { for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true }) })
async function folder (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-helper-'))
  folders.push(dir)
  return dir
}

const code = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const spec = (extra: Partial<JobSpec> = {}): JobSpec => ({
  version: 1, code, inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1 << 28, gpus: 0 }, timeoutSeconds: 60, network: false, ...extra
})

describe('serve ports in the signed spec', () => {
  it('are absent from a spec that serves none (its bytes, so its CID, are as before) and round-trip when given', () => {
    expect(Object.keys(decodeJobSpec(encodeJobSpec(spec())))).not.toContain('serve')
    expect(decodeJobSpec(encodeJobSpec(spec({ serve: [8080, 6006] }))).serve).toEqual([8080, 6006])
  })
  it('refuses port 0, ports past 65535, the same port twice, and more than 8', () => {
    for (const serve of [[0], [65_536], [8080, 8080], [1, 2, 3, 4, 5, 6, 7, 8, 9], []]) expect(() => encodeJobSpec(spec({ serve }))).toThrow()
  })
})

describe('the helper\'s place in a container', () => {
  it('no input may be mounted at /.floe or inside it', () => {
    expect(mountProblem(['/.floe'])).toMatch(/\/\.floe holds the provider's own tools/)
    expect(mountProblem(['/.floe/busybox'])).toMatch(/\/\.floe holds the provider's own tools/)
    expect(mountProblem(['/.floex'])).toBeNull()
  })
  it('job-mounts.ts refuses it too, and binds the host busybox read-only at /.floe/busybox', async () => {
    const root = await folder()
    const inputs = await folder()
    for (const name of ['code', 'output', 'tmp']) await (await import('node:fs/promises')).mkdir(join(root, name))
    await writeFile(join(inputs, 'x'), 'x')
    const plan = { jobRoot: root, inputsRoot: inputs, codeDir: join(root, 'code'), outputDir: join(root, 'output'), tmpDir: join(root, 'tmp'), inputs: [] as Array<{ hostPath: string, mount: string }> }
    const binds = await jobBinds(plan)
    const expected = await checkHelper('/bin/busybox')
    if (expected.bind != null) expect(binds).toContain(expected.bind)
    expect(binds.filter(bind => bind.includes(HELPER_BINARY)).every(bind => bind.endsWith(`:${HELPER_BINARY}:ro`))).toBe(true)
    await expect(jobBinds({ ...plan, inputs: [{ hostPath: join(inputs, 'x'), mount: '/.floe/busybox' }] })).rejects.toThrow(/inside \/\.floe, which holds the provider's own tools/)
  })
})

describe('checkHelper', () => {
  it('takes the host\'s static busybox (Debian busybox-static)', async () => {
    const check = await checkHelper('/bin/busybox')
    expect(check.problem).toBeUndefined()
    expect(check.bind).toMatch(/^\/.*busybox:\/\.floe\/busybox:ro$/)
  })
  it('refuses a missing file, a file others may write, one in a folder others may write, a set-user-id one, and a dynamic executable', async () => {
    const dir = await folder()
    expect((await checkHelper(join(dir, 'none'))).problem).toMatch(/is missing/)
    const copy = join(dir, 'busybox')
    await copyFile('/bin/busybox', copy)
    await chmod(dir, 0o755)
    await chmod(copy, 0o777)
    expect((await checkHelper(copy)).problem).toMatch(/not owned and writable by root alone/)
    await chmod(copy, 0o4755)
    expect((await checkHelper(copy)).problem).toMatch(/set-user-id/)
    await chmod(copy, 0o755)
    await chmod(dir, 0o777)
    expect((await checkHelper(copy)).problem).toMatch(/which holds .* is not owned and writable by root alone/)
    // a link is followed once, to what it names: a link to a dynamic executable is refused for what it is
    await chmod(dir, 0o755)
    await symlink('/bin/ls', join(dir, 'link'))
    expect((await checkHelper(join(dir, 'link'))).problem).toMatch(/linked dynamically/)
  })
})

describe('what a tunnel execs', () => {
  it('with the helper: only the helper, nothing from the image', () => {
    expect(execCommand({ type: 'port', job: 'j', port: 8080 } as any, true)).toEqual([HELPER_BINARY, 'nc', '127.0.0.1', '8080'])
    const probe = execCommand({ type: 'probe', job: 'j', port: 8888 } as any, true)
    expect(probe.slice(0, 3)).toEqual([HELPER_BINARY, 'sh', '-c'])
    expect(probe[3]).toContain(`${HELPER_BINARY} nc 127.0.0.1`)
    expect(probe.slice(4)).toEqual(['floe-probe', '8888'])
    expect(execCommand({ type: 'shell', job: 'j', command: null, cols: 80, rows: 24 } as any, true).slice(0, 2)).toEqual([HELPER_BINARY, 'sh'])
  })
  it('without it (a container made before): the image\'s nc and sh', () => {
    expect(execCommand({ type: 'port', job: 'j', port: 8080 } as any, false)).toEqual(['nc', '127.0.0.1', '8080'])
    expect(execCommand({ type: 'probe', job: 'j', port: 1 } as any, false)[0]).toBe('sh')
  })
  it('detach and detached messages round-trip; a detached id is hex only', () => {
    const open = { type: 'detach', job: 'a'.repeat(32), command: ['httpd', '-f'] } as const
    expect(decodeTunnelMessage(encodeTunnelMessage(open as any))).toEqual(open)
    expect(() => decodeTunnelMessage(encodeTunnelMessage({ type: 'detached', id: '../x', log: '/home/floe/x' } as any))).toThrow(/bad tunnel message/)
  })
})
