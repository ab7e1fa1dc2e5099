import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { Bytes } from '../jobs/spec.js'
import { JobId, TUNNEL_PROTOCOL } from '../ids.js'

/**
 * `/floe/tunnel/1.0.0`: a terminal or a forwarded port of a running workspace, from its
 * client's daemon to the provider. Each stream carries one conversation of length-prefixed
 * dag-cbor messages. The client opens it:
 * - `{ type: 'shell', job, command, cols, rows }`: a process with a pseudo-terminal (the
 *   user's shell when `command` is null) in the workspace's container;
 * - `{ type: 'port', job, port }`: a TCP connection to 127.0.0.1:`port` inside the container
 *   (the container has no network: the provider relays from a process exec'd in its own
 *   network namespace, as `kubectl port-forward` does);
 * - `{ type: 'probe', job, port }`: whether anything listens there;
 * - `{ type: 'detach', job, command }`: a background process (no terminal, stdin closed,
 *   output appended to a log file in the home) that outlives the conversation; the provider
 *   answers `{ type: 'detached', id, log }` and closes.
 * A batch job that serves ports (its spec's `serve`) takes `port` and `probe` to those ports
 * only, and only from its client.
 * Then both sides send `{ type: 'data', bytes }` and `{ type: 'ack', bytes }` (flow control,
 * below); the client also `{ type: 'resize', cols, rows }` and `{ type: 'eof' }`. The provider answers `{ type: 'ready' }` once the process
 * runs (or `{ type: 'error', message }`), and ends with `{ type: 'exit', code }`. Only the
 * workspace's client may open a tunnel to it; any traffic keeps the workspace from its idle
 * stop.
 */
export { TUNNEL_PROTOCOL }
export const TUNNEL_MAX_INBOUND_STREAMS = 64
export const TUNNEL_MAX_OUTBOUND_STREAMS = 64
export const TUNNEL_OPEN_TIMEOUT_MS = 10_000
/** data is sent in pieces of at most this */
export const TUNNEL_CHUNK_BYTES = 32 * 1024
export const MAX_TUNNEL_MESSAGE_BYTES = TUNNEL_CHUNK_BYTES + 1024
/**
 * Flow control, each way: at most TUNNEL_WINDOW_BYTES of data sent and not acknowledged; the
 * receiver acknowledges the running total of data bytes it has handed on (to the process, to
 * the local connection, to the terminal) at least every TUNNEL_ACK_EVERY_BYTES.
 */
export const TUNNEL_WINDOW_BYTES = 1024 * 1024
export const TUNNEL_ACK_EVERY_BYTES = 256 * 1024

/** Where a detached process's output goes, in the workspace's home: `bg-<id>.log` there. */
export const BACKGROUND_LOG_DIR = '.floe'

/** The system log line a provider writes each time it saves a workspace's home: then its CID. */
export const HOME_SAVED = 'home saved:'

const size = z.number().int().min(1).max(10_000)
const port = z.number().int().min(1).max(65_535)

export const TunnelMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('shell'), job: JobId, command: z.array(z.string().max(16 * 1024)).min(1).max(256).nullable(), cols: size, rows: size }).strict(),
  z.object({ type: z.literal('port'), job: JobId, port }).strict(),
  z.object({ type: z.literal('probe'), job: JobId, port }).strict(),
  z.object({ type: z.literal('detach'), job: JobId, command: z.array(z.string().max(16 * 1024)).min(1).max(256) }).strict(),
  z.object({ type: z.literal('detached'), id: z.string().regex(/^[0-9a-f]{1,64}$/), log: z.string().max(1024) }).strict(),
  z.object({ type: z.literal('data'), bytes: Bytes }).strict(),
  z.object({ type: z.literal('resize'), cols: size, rows: size }).strict(),
  z.object({ type: z.literal('eof') }).strict(),
  z.object({ type: z.literal('ack'), bytes: z.number().int().nonnegative() }).strict(),
  z.object({ type: z.literal('ready') }).strict(),
  z.object({ type: z.literal('error'), message: z.string().max(2048) }).strict(),
  z.object({ type: z.literal('exit'), code: z.number().int().nullable() }).strict()
])
export type TunnelMessage = z.infer<typeof TunnelMessage>
export type TunnelOpen = Extract<TunnelMessage, { type: 'shell' | 'port' | 'probe' | 'detach' }>

export class TunnelProtocolError extends Error {
  override name = 'TunnelProtocolError'
}

export const encodeTunnelMessage = (message: TunnelMessage): Uint8Array => dagCbor.encode(message)

export function decodeTunnelMessage (bytes: Uint8Array): TunnelMessage {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new TunnelProtocolError(`not dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = TunnelMessage.safeParse(value)
  if (!parsed.success) throw new TunnelProtocolError(`bad tunnel message: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return parsed.data
}

/** What a client asks a tunnel for, before the job it goes to is named. */
export type TunnelRequest = TunnelOpen extends infer T ? (T extends unknown ? Omit<T, 'job'> : never) : never
