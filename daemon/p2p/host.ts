import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { FLOE_AGENT } from '../../protocol/version.js'

export interface P2pHostOptions {
  privateKey: PrivateKey
  listen: string[]
  bootstrap: string[]
  mdns: boolean
}

export type P2pHost = Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, ping: ReturnType<ReturnType<typeof ping>> }>

/**
 * The node's libp2p 3 host: TCP, noise, yamux, identify and ping, found through mDNS on a LAN
 * and a bootstrap list otherwise. Returned started.
 */
export async function createP2pHost (options: P2pHostOptions): Promise<P2pHost> {
  const peerDiscovery = [
    ...(options.mdns ? [mdns()] : []),
    ...(options.bootstrap.length > 0 ? [bootstrap({ list: options.bootstrap })] : [])
  ]
  return await createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    nodeInfo: { userAgent: FLOE_AGENT },
    services: {
      identify: identify(),
      ping: ping()
    }
  })
}
