import { decodeTunnelMessage, TUNNEL_ACK_EVERY_BYTES, TUNNEL_CHUNK_BYTES, TUNNEL_WINDOW_BYTES, TunnelProtocolError, type TunnelMessage } from '../../protocol/workspaces/tunnel.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { sendWindow } from './send-window.js'

/**
 * One side of a tunnel's flow control (protocol/workspaces/tunnel.ts), over `send`:
 * `sendData` sends bytes in pieces, each waiting while a window is outstanding;
 * `acknowledge` takes the other side's acks; `handedOn` counts received data once it is
 * passed on, and acknowledges it every TUNNEL_ACK_EVERY_BYTES.
 */
export function tunnelCredit (send: (message: TunnelMessage) => Promise<void>) {
  const window = sendWindow(TUNNEL_WINDOW_BYTES, message => new TunnelProtocolError(message))
  let received = 0
  let acked = 0
  return {
    async sendData (bytes: Uint8Array, signal: AbortSignal): Promise<void> {
      for (let at = 0; at < bytes.byteLength; at += TUNNEL_CHUNK_BYTES) {
        const piece = new Uint8Array(bytes.subarray(at, at + TUNNEL_CHUNK_BYTES))
        await window.reserve(piece.byteLength, signal)
        await send({ type: 'data', bytes: piece })
      }
    },
    acknowledge: (total: number): void => { window.acknowledge(total) },
    fail: (err: Error): void => { window.fail(err) },
    async handedOn (bytes: number): Promise<void> {
      received += bytes
      if (received - acked < TUNNEL_ACK_EVERY_BYTES) return
      acked = received
      await send({ type: 'ack', bytes: received })
    }
  }
}

export type TunnelCredit = ReturnType<typeof tunnelCredit>

/**
 * A client reading its tunnel until the provider ends it: data handed to `deliver` (and then
 * acknowledged), acks taken in. Resolves with the process's exit code, or undefined when the
 * stream ended without one.
 */
export async function readTunnel (channel: MessageChannel, credit: TunnelCredit, deliver: (bytes: Uint8Array) => Promise<void>): Promise<{ code: number | null } | undefined> {
  while (true) {
    const bytes = await channel.read()
    if (bytes == null) return undefined
    const message = decodeTunnelMessage(bytes)
    if (message.type === 'data') {
      await deliver(message.bytes)
      await credit.handedOn(message.bytes.byteLength)
    } else if (message.type === 'ack') {
      credit.acknowledge(message.bytes)
    } else if (message.type === 'exit') {
      return { code: message.code }
    }
  }
}
