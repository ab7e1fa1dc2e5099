import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { DHT_PROTOCOL } from '../../protocol/ids.js'
import { floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

const r = resources()
let hub: Libp2p | undefined
afterEach(async () => {
  await r.cleanup()
  await hub?.stop()
})

/** A DHT-only node (no gossipsub): floe daemons that know only it share no gossip mesh. */
async function dhtHub (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }) }
  })
}

describe('provider discovery through the DHT', () => {
  it('a client outside the provider\'s gossip mesh finds it under the providers key, connects and gets its offer', async () => {
    hub = await dhtHub()
    const hubAddr = hub.getMultiaddrs()[0]?.toString() ?? ''
    const provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--dht', '--provider', '--bootstrap', hubAddr]))
    const client = r.daemon(await startDaemon(r.folder(await tempHome()), ['--dht', '--bootstrap', hubAddr]))
    const peersOf = async (d: RunningDaemon): Promise<string[]> => (await floeJson(['peers', '--home', d.home])).map((p: any) => p.peerId)
    // the client was never told about the provider and no gossip carries its offer to it
    // (its DHT queries may meet the provider on the way: the connection is the DHT's either way)
    await expect.poll(async () => await peersOf(client), { timeout: 30_000, interval: 500 }).toContain(provider.endpoint.peerId)
    await expect.poll(() => client.output(), { timeout: 30_000, interval: 500 }).toMatch(new RegExp(`"found":\\["${provider.endpoint.peerId}"\\]`))
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.map((p: any) => p.offer.peerId), { timeout: 10_000 }).toEqual([provider.endpoint.peerId])
  })
})
