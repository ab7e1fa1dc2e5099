import type { Libp2p } from '@libp2p/interface'
import { Circuit } from '@multiformats/multiaddr-matcher'
import type { NodeInfo } from '../../protocol/p2p/peer.js'
import type { RelaySettings } from '../config/config.js'
import type { P2pServices } from './host.js'

/** What `floe id` adds about the network: reachability, relayed addresses, and this node as a relay. */
export function networkView (host: Pick<Libp2p<Pick<P2pServices, 'reachability' | 'relay'>>, 'getMultiaddrs' | 'services'>, relay: RelaySettings): Pick<NodeInfo, 'reachability' | 'relayedAddresses' | 'relay'> {
  return {
    reachability: host.services.reachability.view(),
    relayedAddresses: host.getMultiaddrs().filter(ma => Circuit.matches(ma)).map(String),
    relay: { enabled: relay.enabled, reservations: host.services.relay?.reservations.size ?? 0, unlimited: relay.unlimited }
  }
}
