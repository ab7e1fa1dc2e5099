import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { encodeFrame, openRawShell, type RawFrame } from '../helpers/ws-raw.js'
import { errorLines, fuzz, healthy, storedState } from './harness.js'

/**
 * The terminal WebSocket under generated frames, on a live shell in a real workspace and on
 * a socket whose terminal cannot open: reserved bits, every opcode, fragments, unmasked
 * frames, lengths that lie (up to 2^63), payloads past the 128 KiB limit, text that is not
 * JSON; and slow clients holding sockets open. The daemon must keep serving.
 */
const r = resources()
const started = new Set<string>()
let d: RunningDaemon
let ref: string
let before: unknown
beforeAll(async () => {
  d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  started.add(d.endpoint.peerId)
  const code = r.folder(await tempHome('floe-code-'))
  ref = (await floeJson(['workspace', 'start', 'fuzz', '--path', code, '--provider', d.endpoint.peerId, '--home', d.home])).ref
  const deadline = Date.now() + 30_000
  while ((await floeJson(['status', ref, '--home', d.home])).state !== 'running') {
    if (Date.now() > deadline) throw new Error(`workspace ${ref} did not start within 30 s`)
    await sleep(250)
  }
  before = await storedState(d)
}, 60_000)
afterAll(async () => {
  if (ref != null) await floe(['workspace', 'stop', ref, '--home', d.home])
  await r.cleanup()
  expect(await removeLeftContainers(started), 'containers left behind').toEqual([])
})

const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8')
const payloads = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }).map(utf8) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 2 }).map(utf8) },
  { weight: 1, arbitrary: fc.constantFrom('{"type":"resize","cols":0,"rows":-1}', '{"type":"resize","cols":1e9,"rows":2}', '{"type":"eof"}', '{"type":"exit","code":1}', '{"type":"ready"}', '{}', 'null').map(utf8) },
  { weight: 1, arbitrary: fc.integer({ min: 128 * 1024 - 2, max: 200 * 1024 }).map(n => new Uint8Array(n)) }
)
const frames: fc.Arbitrary<RawFrame> = fc.record({
  fin: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  rsv: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
  opcode: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
  masked: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  payload: payloads,
  length: fc.option(fc.constantFrom(2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 32n, 131_073n, 70_000n, 200n), { freq: 8 })
}, { requiredKeys: ['opcode'] })
const sequences = fc.array(frames, { minLength: 1, maxLength: 4 })

/** Sends the frames, then waits a moment for the daemon to act on them, and hangs up. */
async function play (query: string, sequence: RawFrame[], live: boolean): Promise<void> {
  const shell = await openRawShell(d.endpoint.url, d.token, query)
  try {
    if (live) await shell.text(text => text.includes('"ready"'))
    for (const frame of sequence) shell.write(encodeFrame(frame))
    await Promise.race([shell.closed, sleep(150)])
  } finally {
    shell.destroy()
  }
}

describe('fuzzing the terminal WebSocket', () => {
  it('non-JSON text on a live shell closes that socket with 1007 and a reason; the shell still opens afterwards', async () => {
    const shell = await openRawShell(d.endpoint.url, d.token, `ref=${encodeURIComponent(ref)}`)
    await shell.text(text => text.includes('"ready"'))
    shell.write(encodeFrame({ opcode: 1, payload: utf8('not json') }))
    const closed = await shell.closed
    await healthy(d)
    expect(closed).toEqual({ code: 1007, reason: expect.stringMatching(/JSON control message/) })
    const again = await floe(['shell', ref, '--home', d.home, '--', 'echo', 'still-here'])
    expect(again.stdout).toContain('still-here')
  }, 30_000)

  it('survives generated frames on a live shell', async () => {
    await fuzz('live shell frames', sequences, async sequence => {
      await play(`ref=${encodeURIComponent(ref)}`, sequence, true)
      await healthy(d)
    }, { runs: 25, ms: 12_000 })
  }, 30_000)

  it('survives generated frames and queries on sockets whose terminal cannot open', async () => {
    const queries = fc.oneof(fc.constantFrom('ref=1', 'ref=', 'ref=default/99', `ref=${encodeURIComponent(ref)}&command=%5B1%5D`, `ref=${encodeURIComponent(ref)}&command=nope`, `ref=${encodeURIComponent(ref)}&cols=1.5&rows=-3`), fc.string({ maxLength: 40 }).map(s => `ref=${encodeURIComponent(s)}`))
    await fuzz('refused shell frames', fc.tuple(queries, sequences), async ([query, sequence]) => {
      await play(query, sequence, false)
      await healthy(d)
    }, { runs: 60, ms: 8_000 })
  }, 30_000)

  it('keeps answering while slow clients hold 60 sockets open (half-sent upgrades and frames)', async () => {
    const url = new URL(d.endpoint.url)
    const sockets: Socket[] = []
    try {
      for (let i = 0; i < 30; i++) {
        const socket = connect(Number(url.port), url.hostname)
        socket.on('error', () => { /* the daemon may end it */ })
        socket.write(`GET /api/v1/workspaces/shell?ref=1 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: web`)
        sockets.push(socket)
      }
      for (let i = 0; i < 30; i++) {
        const shell = await openRawShell(d.endpoint.url, d.token, 'ref=1')
        // a frame header promising 100 KiB, and two bytes of it
        shell.write(encodeFrame({ opcode: 2, payload: new Uint8Array(100 * 1024) }).subarray(0, 10))
        sockets.push(shell.socket)
      }
      for (let t = 0; t < 6; t++) {
        for (const socket of sockets.slice(0, 30)) if (!socket.destroyed) socket.write('x')
        await healthy(d)
        await sleep(500)
      }
    } finally {
      for (const socket of sockets) socket.destroy()
    }
    await healthy(d)
    expect(await storedState(d)).toEqual(before)
    expect(errorLines(d)).toEqual([])
  }, 30_000)
})
