import type { Libp2p } from '@libp2p/interface'
import { FLOE_AGENT, FLOE_VERSION } from '../../protocol/version.js'
import { connectPeer, listPeers } from '../p2p/index.js'
import type { ApiHandlers } from './server.js'

export interface ApiHandlerComponents {
  host: Pick<Libp2p, 'peerId' | 'getMultiaddrs' | 'getProtocols' | 'getConnections' | 'dial'>
  home: string
  apiUrl: () => string
  startedAt: Date
}

/** Maps each declared route to the operation that serves it. */
export function apiHandlers ({ host, home, apiUrl, startedAt }: ApiHandlerComponents): ApiHandlers {
  return {
    id: async () => ({
      peerId: host.peerId.toString(),
      addresses: host.getMultiaddrs().map(ma => ma.toString()),
      protocols: host.getProtocols(),
      agentVersion: FLOE_AGENT,
      version: FLOE_VERSION,
      apiUrl: apiUrl(),
      home,
      startedAt: startedAt.toISOString()
    }),
    peers: async () => ({ peers: listPeers(host) }),
    connect: async ({ addr }, { signal }) => await connectPeer(host, addr, { signal })
  }
}
