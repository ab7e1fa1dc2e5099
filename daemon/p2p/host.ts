import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { MAX_OFFER_BYTES } from '../../protocol/market/offer.js'
import { identify } from '@libp2p/identify'
import type { kadDHT } from '@libp2p/kad-dht'
import type { PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import type { Libp2p, Libp2pOptions } from 'libp2p'
import { FLOE_AGENT } from '../../protocol/version.js'

export interface P2pHostOptions {
  privateKey: PrivateKey
  listen: string[]
  mdns: boolean
  /** the DHT service when the node joins it (dht.ts) */
  dht?: ReturnType<typeof kadDHT>
}

// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- libp2p's ServiceMap needs an index signature
export type P2pServices = {
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
  pubsub: ReturnType<ReturnType<typeof gossipsub>>
  /** present when the node joins the DHT */
  dht?: ReturnType<ReturnType<typeof kadDHT>>
  /** present when mDNS is on */
  mdns?: ReturnType<ReturnType<typeof mdns>>
}

export type P2pHost = Libp2p<P2pServices>

/**
 * The node's libp2p 3 host: TCP, noise, yamux, identify, ping, gossipsub (offers) and,
 * when asked, a Kademlia DHT (providers announce themselves there, see dht.ts);
 * peers are found through mDNS on a LAN, and the bootstrap list is kept connected by
 * bootstrap-keeper.ts.
 */
export function p2pHostOptions (options: P2pHostOptions): Libp2pOptions<P2pServices> {
  return {
    privateKey: options.privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    nodeInfo: { userAgent: FLOE_AGENT },
    services: {
      identify: identify(),
      ping: ping(),
      // offers only (DESIGN.md): everything else goes over direct streams
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: 4 * MAX_OFFER_BYTES,
        // Gossipsub scores down (and then ignores) peers beyond 10 sharing one IP, against
        // sybils; peers on loopback are this machine's own daemons, not sybils.
        scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']) }
      }),
      ...(options.dht != null ? { dht: options.dht } : {}),
      // a service rather than a discovery module, so that only its finds are dialled (discovery-dialer.ts)
      ...(options.mdns ? { mdns: mdns() } : {})
    }
  }
}
