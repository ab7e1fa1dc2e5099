import { z } from 'zod'
import { PeerIdString } from '../ids.js'

/** This node and the peers it is connected to, as `floe id` and `floe peers` show them. */

export const MultiaddrString = z.string().min(1).max(1024)

/** Whether peers on the internet can reach this node (daemon/p2p/reachability.ts). */
export const Reachability = z.object({
  /** public: a peer reached one of its addresses; private: peers tried and none answered; unknown: no public peer asked yet */
  status: z.enum(['public', 'private', 'unknown']),
  checkedAt: z.string().nullable(),
  /** the peers whose answer this is */
  checkedBy: z.array(PeerIdString),
  /** addresses a peer reached */
  publicAddrs: z.array(MultiaddrString),
  /** where peers see this node's connections come from (its NAT's public side, when behind one) */
  observedAddrs: z.array(MultiaddrString)
})
export type Reachability = z.infer<typeof Reachability>

/** This node: who it is, where it listens, what it speaks. */
export const NodeInfo = z.object({
  peerId: PeerIdString,
  /** listen addresses others can dial, each ending in /p2p/<peerId> */
  addresses: z.array(MultiaddrString),
  reachability: Reachability,
  /** addresses through relays that hold a reservation for this node (…/p2p-circuit/p2p/<peerId>) */
  relayedAddresses: z.array(MultiaddrString),
  /** this node serves as a relay for others (`floe daemon --relay`) */
  relay: z.object({ enabled: z.boolean(), reservations: z.number().int(), unlimited: z.boolean() }),
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
  rttMs: z.number().nullable(),
  /** relayed: the connection goes through a relay (limited by it), direct otherwise */
  via: z.enum(['direct', 'relayed']).default('direct')
})
export type PeerInfo = z.infer<typeof PeerInfo>

/** A peer this node remembers (its peer store, kept on disk across restarts). */
export const KnownPeer = z.object({
  peerId: PeerIdString,
  addrs: z.array(MultiaddrString),
  /** why it is kept connected: bootstrap (config), connect (`floe connect`), member (of a project), provider (of an unfinished job) */
  kept: z.array(z.enum(['bootstrap', 'connect', 'member', 'provider'])),
  connected: z.boolean(),
  /** last time a connection to it opened, when known */
  lastSeen: z.string().nullable(),
  /** it speaks floe's job protocol (a floe daemon) */
  floe: z.boolean()
})
export type KnownPeer = z.infer<typeof KnownPeer>
