import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { floe, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { encodeFrame, openRawShell } from '../helpers/ws-raw.js'

/**
 * Regression tests for the robustness issue: each sends the exact input that used to kill
 * the daemon or make it answer 500, and checks what a user sees afterwards.
 */
const r = resources()
afterEach(async () => { await r.cleanup() })

async function api (d: RunningDaemon, method: string, path: string, body?: string): Promise<Response> {
  return await fetch(`${d.endpoint.url}${path}`, { method, body, headers: { authorization: `Bearer ${d.token}` } })
}

/** The daemon still runs and answers `floe id`. */
async function stillServing (d: RunningDaemon): Promise<void> {
  await sleep(100)
  expect(d.process.exitCode, `the daemon exited:\n${d.output()}`).toBeNull()
  const id = await floe(['id', '--home', d.home, '--json'])
  expect(id.code, id.stderr).toBe(0)
  expect(JSON.parse(id.stdout).peerId).toBe(d.endpoint.peerId)
}

const errorLines = (d: RunningDaemon): string[] => d.output().split('\n').filter(line => /"level":50/.test(line))

describe('the terminal WebSocket survives bad frames', () => {
  it('a frame with reserved bits set (ff 80 00 00 00 00) closes that socket with 1002 and a reason; the daemon keeps serving', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome())))
    const shell = await openRawShell(d.endpoint.url, d.token, 'ref=1')
    shell.write(Buffer.from([0xff, 0x80, 0x00, 0x00, 0x00, 0x00]))
    const closed = await shell.closed
    await stillServing(d)
    expect(closed.code).toBe(1002)
    expect(closed.reason).toMatch(/protocol/i)
  })

  it('a frame above the 128 KiB payload limit closes that socket with 1009 and a reason; the daemon keeps serving', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome())))
    const shell = await openRawShell(d.endpoint.url, d.token, 'ref=1')
    shell.write(encodeFrame({ opcode: 2, payload: new Uint8Array(128 * 1024 + 1) }))
    const closed = await shell.closed
    await stillServing(d)
    expect(closed.code).toBe(1009)
    expect(closed.reason).toMatch(/at most 131072 bytes/)
  })
})

describe('the HTTP API', () => {
  it('a JSON body cut off by the client (content-length 1000, 10 bytes sent, then gone) is not logged as a fault', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome())))
    const url = new URL(d.endpoint.url)
    const socket = connect(Number(url.port), url.hostname)
    await new Promise(resolve => socket.once('connect', resolve))
    socket.write(`POST /api/v1/jobs HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${d.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":12345`)
    await sleep(200)
    socket.destroy()
    await stillServing(d)
    expect(errorLines(d)).toEqual([])
  })
})

describe('browser uploads', () => {
  it('a PUT to ".", "./" or a path already written answers 4xx with a message, and logs no error', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome())))
    const { id } = await (await api(d, 'POST', '/api/v1/uploads', '{}')).json() as any
    for (const path of ['.', './', 'a/..', 'a//', '']) {
      const res = await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=${encodeURIComponent(path)}`, 'x')
      expect(res.status, path).toBe(400)
      expect((await res.json() as any).error.message).toMatch(/is not a relative file path/)
    }
    expect((await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=a.txt`, 'one')).status).toBe(200)
    const again = await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=a.txt`, 'two')
    expect(again.status).toBe(409)
    expect((await again.json() as any).error).toMatchObject({ name: 'UploadConflictError', message: expect.stringMatching(/a\.txt.*already/) })
    // a file where a folder is needed, and a folder where a file is
    expect((await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=a.txt/b`, 'x')).status).toBe(409)
    expect((await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=dir/b`, 'x')).status).toBe(200)
    expect((await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=dir`, 'x')).status).toBe(409)
    await stillServing(d)
    expect(errorLines(d)).toEqual([])
  })

  it('an upload never finished is removed after its TTL (FLOE_UPLOAD_TTL_MS, test-only), and its id is then unknown', async () => {
    const d = r.daemon(await startDaemon(r.folder(await tempHome()), [], { env: { FLOE_UPLOAD_TTL_MS: '400' } }))
    const uploads = join(d.home, 'uploads')
    const { id } = await (await api(d, 'POST', '/api/v1/uploads', '{}')).json() as any
    expect((await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=x.txt`, 'x')).status).toBe(200)
    expect(existsSync(join(uploads, id))).toBe(true)
    await expect.poll(async () => await readdir(uploads), { timeout: 5_000, interval: 100 }).toEqual([])
    const late = await api(d, 'PUT', `/api/v1/uploads/file?id=${id}&path=y.txt`, 'y')
    expect(late.status).toBe(404)
    expect((await late.json() as any).error.message).toMatch(/no such upload/)
    const finish = await api(d, 'POST', '/api/v1/uploads/finish', JSON.stringify({ id, name: 'late' }))
    expect(finish.status).toBe(200)
    expect(await finish.text()).toMatch(/no such upload/)
  })

  it('folders left by an earlier run are removed when the daemon starts', async () => {
    const home = r.folder(await tempHome())
    const first = await startDaemon(home)
    const { id } = await (await api(first, 'POST', '/api/v1/uploads', '{}')).json() as any
    await first.stop()
    expect(existsSync(join(home, 'uploads', id))).toBe(true)
    r.daemon(await startDaemon(home))
    expect(await readdir(join(home, 'uploads'))).toEqual([])
  })
})
