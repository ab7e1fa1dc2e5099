import { z } from 'zod'
import { REACH_PROTOCOL } from '../ids.js'
import { MultiaddrString } from './peer.js'

/**
 * `/floe/reach/1.0.0`: "can you reach me here?" A node sends the public addresses it may be
 * reachable at; the peer opens a plain TCP connection to each one whose IP is the one the
 * request came from (so a node cannot aim a peer's dials at a third party) and says which
 * answered, and at which address it sees the asker. One request, one answer, then the
 * stream closes.
 *
 * Why not AutoNAT (v1 or v2): both decide only after 4 successful (or 8 failed) dial-backs
 * from peers in distinct /8 networks. A floe network often has one or two public nodes (a
 * community's relay), so AutoNAT would say "unknown" there for ever.
 */
export { REACH_PROTOCOL }

/** Addresses asked about in one request: a node's listen and observed addresses, a few. */
export const MAX_REACH_ADDRS = 8
/** A request or an answer is a few hundred bytes; anything longer is not one. */
export const MAX_REACH_MESSAGE_BYTES = 8 * 1024
/** Each dial-back: a TCP handshake across the internet takes well under this. */
export const REACH_DIAL_TIMEOUT_MS = 3_000
/** The whole exchange, from opening the stream to the answer. */
export const REACH_TIMEOUT_MS = 15_000
/** One request per peer per this long is served; more are refused (a peer cannot make this node dial in a loop). */
export const REACH_MIN_INTERVAL_MS = 20_000
/** Concurrent requests served, from all peers. */
export const REACH_MAX_INBOUND_STREAMS = 4

export const ReachRequest = z.object({
  addrs: z.array(MultiaddrString).max(MAX_REACH_ADDRS)
}).strict()
export type ReachRequest = z.infer<typeof ReachRequest>

export const ReachResult = z.object({
  addr: MultiaddrString,
  /** `reachable`: the TCP handshake completed; `unreachable`: refused or no answer; `refused`: not dialled (another IP, not TCP) */
  result: z.enum(['reachable', 'unreachable', 'refused'])
}).strict()

export const ReachResponse = z.object({
  /** where the asker's connection comes from, as this peer sees it */
  observed: MultiaddrString,
  results: z.array(ReachResult).max(MAX_REACH_ADDRS),
  /** set instead of results when the request was not served (too soon, malformed) */
  error: z.string().max(200).optional()
}).strict()
export type ReachResponse = z.infer<typeof ReachResponse>

export function encodeReach (message: ReachRequest | ReachResponse): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

export function decodeReach<T> (schema: z.ZodType<T>, bytes: Uint8Array): T {
  return schema.parse(JSON.parse(new TextDecoder().decode(bytes)))
}
