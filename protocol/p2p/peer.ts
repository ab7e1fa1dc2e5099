import { z } from 'zod'
import { PeerIdString } from '../ids.js'

/** This node and the peers it is connected to, as `floe id` and `floe peers` show them. */

export const MultiaddrString = z.string().min(1).max(1024)

/** This node: who it is, where it listens, what it speaks. */
export const NodeInfo = z.object({
  peerId: PeerIdString,
  /** listen addresses others can dial, each ending in /p2p/<peerId> */
  addresses: z.array(MultiaddrString),
  protocols: z.array(z.string()),
  agentVersion: z.string(),
  version: z.string(),
  apiUrl: z.string(),
  home: z.string(),
  startedAt: z.string()
})
export type NodeInfo = z.infer<typeof NodeInfo>

/** One open connection to a peer. */
export const PeerInfo = z.object({
  peerId: PeerIdString,
  addr: MultiaddrString,
  direction: z.enum(['inbound', 'outbound']),
  openedAt: z.string(),
  /** round-trip time in milliseconds, once the connection monitor has measured it */
  rttMs: z.number().nullable()
})
export type PeerInfo = z.infer<typeof PeerInfo>
