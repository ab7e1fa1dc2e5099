import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { p2pHostOptions, type P2pHost } from '../../daemon/p2p/host.js'
import { signOffer } from '../../daemon/market/offer-signing.js'
import { OFFER_BOOK_LIMITS } from '../../daemon/market/offer-book.js'
import { OFFER_TOPIC } from '../../protocol/market/offer.js'
import { floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { sampleOffer } from '../helpers/offers.js'

// A peer floods the offers topic with signed offers from fresh peer ids (keys cost nothing):
// the book of the node it floods stays bounded, and an honest provider's offer stays in it.

const r = resources()
const flooders: P2pHost[] = []
let holder: RunningDaemon
let provider: RunningDaemon

/** A libp2p node as floe's (same gossipsub settings) that publishes each offer as its own author. */
async function flooder (target: string): Promise<P2pHost> {
  const node = await createLibp2p(p2pHostOptions({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })) as unknown as P2pHost
  flooders.push(node)
  node.services.pubsub.subscribe(OFFER_TOPIC)
  await node.dial(multiaddr(target))
  for (const deadline = Date.now() + 10_000; !node.services.pubsub.getSubscribers(OFFER_TOPIC).some(p => target.endsWith(p.toString()));) {
    if (Date.now() > deadline) throw new Error('the node to flood did not subscribe to the offers topic')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return node
}

/** Publishes `n` offers, each from a fresh peer id and signed by it, as a gossipsub message it authored. */
async function flood (node: P2pHost, n: number): Promise<void> {
  const pubsub = node.services.pubsub as any
  for (let i = 0; i < n; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key)
    // gossipsub signs as its publishConfig says: here, as the fresh peer (a modified client can)
    pubsub.publishConfig = { type: 0, author: id, key: publicKeyToProtobuf(key.publicKey), privateKey: key }
    await pubsub.publish(OFFER_TOPIC, await signOffer(key, sampleOffer(id.toString(), Date.now(), { expiresAt: Date.now() + 5 * 60_000 })))
    if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 20))
  }
}

const providersOf = async (daemon: RunningDaemon): Promise<string[]> => (await floeJson(['providers', '--home', daemon.home])).providers.map((p: any) => p.offer.peerId)

beforeAll(async () => {
  holder = r.daemon(await startDaemon(r.folder(await tempHome())))
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  await floeJson(['connect', (await floeJson(['id', '--home', holder.home])).addresses[0], '--home', provider.home])
  for (const deadline = Date.now() + 10_000; !(await providersOf(holder)).includes(provider.endpoint.peerId);) {
    if (Date.now() > deadline) throw new Error('the honest provider\'s offer did not reach the holder')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}, 60_000)

afterAll(async () => {
  await Promise.all(flooders.map(async node => { await node.stop() }))
  await r.cleanup()
})

describe('offer flood', () => {
  it('keeps the offer book bounded per connection and per address, and the honest provider\'s offer in it', async () => {
    const target = (await floeJson(['id', '--home', holder.home])).addresses[0]
    // one connection: its share (OFFER_BOOK_LIMITS.perPeer), no more
    const first = await flooder(target)
    await flood(first, OFFER_BOOK_LIMITS.perPeer + 150)
    await expect.poll(async () => (await providersOf(holder)).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(OFFER_BOOK_LIMITS.perPeer)
    await new Promise(resolve => setTimeout(resolve, 1_000))
    expect((await providersOf(holder)).length).toBe(OFFER_BOOK_LIMITS.perPeer + 1)
    // two more connections from the same machine (fresh peer ids each): the address's share
    for (const node of [await flooder(target), await flooder(target)]) await flood(node, OFFER_BOOK_LIMITS.perPeer)
    await expect.poll(async () => (await providersOf(holder)).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(OFFER_BOOK_LIMITS.perAddress)
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const held = await providersOf(holder)
    expect(held.length).toBe(OFFER_BOOK_LIMITS.perAddress + 1)
    expect(held).toContain(provider.endpoint.peerId)
    // and the node still takes the honest provider's newer offers
    await floeJson(['provider', 'set', 'max-jobs', '3', '--home', provider.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', holder.home])).providers.find((p: any) => p.offer.peerId === provider.endpoint.peerId)?.offer.maxConcurrentJobs, { timeout: 10_000 }).toBe(3)
  }, 120_000)
})
