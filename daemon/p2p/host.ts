import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { MAX_OFFER_BYTES } from '../../protocol/market/offer.js'
import { identify } from '@libp2p/identify'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import type { Datastore } from 'interface-datastore'
import type { Address } from '@libp2p/interface'
import { loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils'
import { Circuit } from '@multiformats/multiaddr-matcher'
import type { RelaySettings } from '../config/config.js'
import { punchingTcp } from './punch-tcp.js'
import { reachability, type Reachability } from './reachability.js'
import type { kadDHT } from '@libp2p/kad-dht'
import type { PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import type { Libp2p, Libp2pOptions } from 'libp2p'
import { FLOE_AGENT } from '../../protocol/version.js'

export interface P2pHostOptions {
  privateKey: PrivateKey
  listen: string[]
  mdns: boolean
  /** the DHT service when the node joins it (dht.ts) */
  dht?: ReturnType<typeof kadDHT>
  /** the peer store's home on disk (peer-keeper.ts): peers' addresses outlive a restart */
  datastore?: Datastore
  /** serve as a circuit relay v2, with these limits */
  relay?: RelaySettings
  /** reserve a slot on a relay (listen on /p2p-circuit) */
  relayClient?: boolean
  /** DCUtR, and outbound TCP to public addresses from this fixed local port (punch-tcp.ts); absent: no hole punching */
  dialPort?: number
  upnp?: boolean
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
  reachability: Reachability
  /** present when this node serves as a relay */
  relay?: CircuitRelayService
  dcutr?: ReturnType<ReturnType<typeof dcutr>>
  upnp?: ReturnType<ReturnType<typeof uPnPNAT>>
}

export type P2pHost = Libp2p<P2pServices>

/**
 * Relayed addresses are dialled before direct ones. A peer has one only when it reserved a
 * relay slot, because it may be unreachable directly (behind a NAT): a direct address of such
 * a peer would cost the whole per-address dial timeout before the relay is tried. Once
 * relayed, DCUtR upgrades the connection to a direct one where the NATs allow it.
 */
function relayedFirst (a: Address, b: Address): -1 | 0 | 1 {
  const ar = Circuit.matches(a.multiaddr)
  const br = Circuit.matches(b.multiaddr)
  if (ar !== br) return ar ? -1 : 1
  if (a.isCertified !== b.isCertified) return a.isCertified ? -1 : 1
  return loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
}

/**
 * The node's libp2p 3 host: TCP (outbound to public addresses from one fixed port, for hole
 * punching), circuit relay v2 (as a client; as a relay when the owner opts in), DCUtR, noise,
 * yamux, identify, ping, floe's reachability check, gossipsub (offers) and, when asked, a
 * Kademlia DHT (providers announce themselves there, see dht.ts); peers are found through
 * mDNS on a LAN, and the peers worth keeping are kept connected by peer-keeper.ts.
 */
export function p2pHostOptions (options: P2pHostOptions): Libp2pOptions<P2pServices> {
  const relay = options.relay?.enabled === true ? options.relay : undefined
  const listen = [...options.listen, ...(options.relayClient === true && relay == null ? ['/p2p-circuit'] : [])]
  return {
    privateKey: options.privateKey,
    addresses: { listen },
    ...(options.datastore != null ? { datastore: options.datastore } : {}),
    transports: [punchingTcp({ dialPort: options.dialPort }), circuitRelayTransport({ reservationCompletionTimeout: 10_000 })],
    connectionManager: { addressSorter: relayedFirst },
    // A ping that times out while this node (or the peer) is busy — validating a flood of
    // offers, say — must not cut an honest peer off: dead connections are still found by
    // yamux's keep-alive and TCP, and jobs by their own heartbeats (protocol/jobs/wire.ts).
    connectionMonitor: { abortConnectionOnPingFailure: false },
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    nodeInfo: { userAgent: FLOE_AGENT },
    services: {
      identify: identify(),
      // libp2p's connection monitor pings every connection on this protocol too: a latency
      // measurement (floe providers) at the same moment hit the one-stream default
      // (TooManyOutboundProtocolStreamsError) and left the provider without a latency
      ping: ping({ maxInboundStreams: 4, maxOutboundStreams: 4 }),
      reachability: reachability({ holePunch: options.dialPort != null }),
      ...(options.dialPort != null ? { dcutr: dcutr() } : {}),
      ...(options.upnp === true ? { upnp: uPnPNAT() } : {}),
      ...(relay != null
        ? {
            relay: circuitRelayServer({
              reservations: {
                maxReservations: relay.maxReservations,
                reservationTtl: relay.reservationTtlS * 1000,
                applyDefaultLimit: !relay.unlimited,
                defaultDurationLimit: relay.maxDurationS * 1000,
                defaultDataLimit: BigInt(relay.maxBytes)
              }
            })
          }
        : {}),
      // offers only (DESIGN.md): everything else goes over direct streams
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: 4 * MAX_OFFER_BYTES,
        // Gossipsub scores down (and then ignores) peers beyond a number sharing one IP, against
        // sybils, and remembers disconnected peers for an hour. Its 10 is too few for floe: a
        // lab's machines, or a campus, sit behind one NAT, and a relay then stopped forwarding
        // offers to the 14th peer from one home within the hour (bench/nat.ts, fresh daemons
        // per try). 64 keeps the penalty for a sybil swarm; the offer book bounds what one
        // address may place anyway (512 offers). Peers on loopback are this machine's own.
        scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']), IPColocationFactorThreshold: 64 }
      }),
      ...(options.dht != null ? { dht: options.dht } : {}),
      // a service rather than a discovery module, so that only its finds are dialled (discovery-dialer.ts)
      ...(options.mdns ? { mdns: mdns() } : {})
    }
  }
}
