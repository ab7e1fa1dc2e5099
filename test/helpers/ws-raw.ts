import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { SHELL_PATH } from '../../protocol/api/workspace-routes.js'

/**
 * A WebSocket client that sends whatever bytes a test hands it: the daemon's terminal socket
 * is upgraded by hand, and frames are built field by field, reserved bits, opcodes and
 * lengths included, so tests can send what no well-behaved library would.
 */
export interface RawFrame {
  fin?: boolean
  /** the three reserved bits, 0–7 */
  rsv?: number
  opcode: number
  masked?: boolean
  payload?: Uint8Array
  /** the length written in the header, when it should lie about the payload */
  length?: bigint
}

export function encodeFrame (frame: RawFrame): Buffer {
  const payload = Buffer.from(frame.payload ?? new Uint8Array())
  const length = frame.length ?? BigInt(payload.length)
  const masked = frame.masked ?? true
  const first = ((frame.fin ?? true) ? 0x80 : 0) | ((frame.rsv ?? 0) & 7) << 4 | (frame.opcode & 0x0f)
  let header: Buffer
  if (length < 126n) header = Buffer.from([first, (masked ? 0x80 : 0) | Number(length)])
  else if (length < 65536n) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 126
    header.writeUInt16BE(Number(length), 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 127
    header.writeBigUInt64BE(length & 0xffffffffffffffffn, 2)
  }
  if (!masked) return Buffer.concat([header, payload])
  const mask = randomBytes(4)
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)))
  return Buffer.concat([header, mask, body])
}

export interface ServerFrame { opcode: number, payload: Buffer }

/** An upgraded terminal socket: raw writes, and the server's frames as they are parsed. */
export interface RawShell {
  socket: Socket
  write(bytes: Uint8Array): void
  /** every frame the server sent so far */
  frames: ServerFrame[]
  /** resolves when the server's close frame arrived (its code and reason) or the socket ended without one */
  closed: Promise<{ code: number | null, reason: string }>
  /** resolves with the first text frame for which `match` holds */
  text(match: (text: string) => boolean, timeoutMs?: number): Promise<string>
  destroy(): void
}

/**
 * Upgrades `SHELL_PATH?query` with the bearer token; rejects unless the daemon answers 101.
 */
export async function openRawShell (apiUrl: string, token: string, query: string, timeoutMs = 5_000): Promise<RawShell> {
  const url = new URL(apiUrl)
  const socket = connect(Number(url.port), url.hostname)
  socket.on('error', () => { /* the daemon may reset: `closed` reports the end */ })
  socket.setTimeout(timeoutMs, () => { socket.destroy(new Error('the daemon did not answer in time')) })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write([
    `GET ${SHELL_PATH}?${query} HTTP/1.1`,
    `Host: ${url.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    `Authorization: Bearer ${token}`,
    '', ''
  ].join('\r\n'))
  let buffered = Buffer.alloc(0)
  const rest = await new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      const head = buffered.subarray(0, end).toString('latin1')
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`no upgrade: ${head.split('\r\n')[0] ?? ''}`))
      else resolve(buffered.subarray(end + 4))
    }
    socket.on('data', onData)
    socket.once('close', () => { reject(new Error('the daemon closed the connection before upgrading')) })
  })
  socket.setTimeout(0)
  const frames: ServerFrame[] = []
  const waiters = new Set<() => void>()
  let pending = rest
  let closeFrame: { code: number | null, reason: string } | undefined
  const parse = (): void => {
    while (pending.length >= 2) {
      const opcode = (pending[0] ?? 0) & 0x0f
      let length = (pending[1] ?? 0) & 0x7f
      let offset = 2
      if (length === 126) {
        if (pending.length < 4) return
        length = pending.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (pending.length < 10) return
        length = Number(pending.readBigUInt64BE(2))
        offset = 10
      }
      if (pending.length < offset + length) return
      const payload = pending.subarray(offset, offset + length)
      pending = pending.subarray(offset + length)
      frames.push({ opcode, payload })
      if (opcode === 8 && closeFrame == null) {
        closeFrame = { code: payload.length >= 2 ? payload.readUInt16BE(0) : null, reason: payload.subarray(2).toString('utf8') }
        // answer the close as a client does, so the server ends the connection at once
        if (!socket.destroyed && socket.writable) socket.end(encodeFrame({ opcode: 8, payload: payload.subarray(0, 2) }))
      }
    }
  }
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    parse()
    for (const wake of waiters) wake()
  })
  parse()
  const closed = new Promise<{ code: number | null, reason: string }>(resolve => {
    socket.once('close', () => { resolve(closeFrame ?? { code: null, reason: '' }) })
  })
  return {
    socket,
    frames,
    write: bytes => { if (!socket.destroyed && socket.writable) socket.write(bytes) },
    closed,
    async text (match, ms = 10_000) {
      const find = (): string | undefined => frames.filter(f => f.opcode === 1).map(f => f.payload.toString('utf8')).find(match)
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no matching text frame within ${ms} ms; got ${JSON.stringify(frames.map(f => f.opcode === 1 ? f.payload.toString('utf8') : `op${f.opcode}:${f.payload.length}`))}`)) }, ms)
        const check = (): void => {
          const found = find()
          if (found == null) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        waiters.add(check)
        check()
      })
    },
    destroy: () => { socket.destroy() }
  }
}
