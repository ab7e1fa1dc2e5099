import type { kadDHT } from '@libp2p/kad-dht'
import { DHT_PROTOCOL } from '../../protocol/ids.js'

/**
 * The DHT service, for a node that joins it (config `dht`, `floe daemon --dht`). Loaded only
 * then: it costs ~11 MiB resident and, with every node on one 2-core machine, enough
 * background work at 50 nodes to starve the offers mesh (BENCHMARKS.md), so it is opt-in.
 * Server mode with private addresses kept, so it works across a LAN and on loopback as well
 * as on the public internet; a narrow query (alpha 3) and small buckets (8) keep its traffic
 * low.
 */
export async function dhtService (): Promise<ReturnType<typeof kadDHT>> {
  const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
  return kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, logPrefix: 'floe:dht', alpha: 3, kBucketSize: 8 })
}
