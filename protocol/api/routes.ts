import { z } from 'zod'
import { defineRoute } from './route.js'

export const API_VERSION_PREFIX = '/api/v1'

const PeerIdString = z.string().min(1).max(128)
const MultiaddrString = z.string().min(1).max(1024)

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

export const PeerInfo = z.object({
  peerId: PeerIdString,
  addr: MultiaddrString,
  direction: z.enum(['inbound', 'outbound']),
  openedAt: z.string(),
  /** round-trip time in milliseconds, once the connection monitor has measured it */
  rttMs: z.number().nullable()
})
export type PeerInfo = z.infer<typeof PeerInfo>

/** Every route of the local HTTP API. Keys are the names the typed client calls. */
export const routes = {
  id: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/id`,
    summary: "this node's peer id, addresses and versions",
    input: z.object({}),
    output: NodeInfo
  }),
  peers: defineRoute({
    method: 'GET',
    path: `${API_VERSION_PREFIX}/peers`,
    summary: 'connected peers',
    input: z.object({}),
    output: z.object({ peers: z.array(PeerInfo) })
  }),
  connect: defineRoute({
    method: 'POST',
    path: `${API_VERSION_PREFIX}/peers/connect`,
    summary: 'dial a peer by multiaddr',
    input: z.object({ addr: MultiaddrString }).strict(),
    output: z.object({ peerId: PeerIdString, addr: MultiaddrString })
  })
} as const

export type Routes = typeof routes
export type RouteName = keyof Routes
