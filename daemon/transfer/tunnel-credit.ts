import { TUNNEL_ACK_EVERY_BYTES, TUNNEL_WINDOW_BYTES, TunnelProtocolError } from '../../protocol/workspaces/tunnel.js'
import { sendWindow } from './send-window.js'

/**
 * One side of a tunnel's flow control (protocol/workspaces/tunnel.ts): `reserve` before
 * sending data (waits while a window is outstanding), `acknowledge` the other side's acks,
 * and `handedOn` each piece of received data once it is passed on, which acknowledges it
 * every TUNNEL_ACK_EVERY_BYTES.
 */
export function tunnelCredit (sendAck: (total: number) => Promise<void>) {
  const window = sendWindow(TUNNEL_WINDOW_BYTES, message => new TunnelProtocolError(message))
  let received = 0
  let acked = 0
  return {
    reserve: async (bytes: number, signal: AbortSignal): Promise<void> => { await window.reserve(bytes, signal) },
    acknowledge: (total: number): void => { window.acknowledge(total) },
    fail: (err: Error): void => { window.fail(err) },
    async handedOn (bytes: number): Promise<void> {
      received += bytes
      if (received - acked < TUNNEL_ACK_EVERY_BYTES) return
      acked = received
      await sendAck(received)
    }
  }
}

export type TunnelCredit = ReturnType<typeof tunnelCredit>
