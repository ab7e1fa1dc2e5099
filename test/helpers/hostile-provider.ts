import type { PrivateKey } from '@libp2p/interface'
import { createLibp2p, type Libp2p } from 'libp2p'
import { expect } from 'vitest'
import { p2pHostOptions, type P2pServices } from '../../daemon/p2p/host.js'
import { streamChannel, type MessageChannel } from '../../daemon/p2p/message-channel.js'
import { signOffer } from '../../daemon/market/offer-signing.js'
import { decodeClientMessage, decodeJobRequest, encodeJobMessage, JOB_PROTOCOL, MAX_JOB_MESSAGE_BYTES, type JobRequest, type ProviderMessage } from '../../protocol/jobs/wire.js'
import { OFFER_TOPIC } from '../../protocol/market/offer.js'
import { floeJson } from './floe.js'
import { sampleOffer } from './offers.js'

/** What a hostile provider's script gets for one submitted job. */
export interface HostileJob {
  channel: MessageChannel
  request: JobRequest
  /** this provider's peer id */
  self: string
  send(message: ProviderMessage): Promise<void>
}

/**
 * A modified provider speaking floe's own protocols: a libp2p node on loopback that takes a
 * job on /floe/job (the current version) and then does whatever `script` says — all of it
 * signed with its own key, so only the client's checks against the deal can catch it.
 */
export async function hostileProviderNode (key: PrivateKey, script: (job: HostileJob) => Promise<void>): Promise<Libp2p<P2pServices>> {
  const node = await createLibp2p(p2pHostOptions({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
  const self = node.peerId.toString()
  node.services.pubsub.subscribe(OFFER_TOPIC)
  const serve = async (channel: MessageChannel): Promise<void> => {
    const first = decodeClientMessage(await channel.read({ signal: AbortSignal.timeout(10_000) }) as Uint8Array)
    if (first.type !== 'submit') throw new Error(`unexpected ${first.type}`)
    const request = decodeJobRequest(first.request)
    await script({ channel, request, self, send: async m => { await channel.send(encodeJobMessage(m)) } })
  }
  await node.handle(JOB_PROTOCOL, (stream, connection) => {
    const channel = streamChannel(stream, connection.remotePeer.toString(), MAX_JOB_MESSAGE_BYTES)
    serve(channel).catch((err: Error) => { channel.abort(err) })
  })
  return node
}

/** Publishes the provider's signed offer until the client's book (`home`) holds it. */
export async function offerTo (node: Libp2p<P2pServices>, key: PrivateKey, home: string): Promise<void> {
  const peerId = node.peerId.toString()
  const addrs = node.getMultiaddrs().map(a => a.toString())
  await expect.poll(async () => {
    const now = Date.now()
    await node.services.pubsub.publish(OFFER_TOPIC, await signOffer(key, sampleOffer(peerId, now, { addrs, seq: now })))
    return (await floeJson(['providers', '--home', home])).providers.map((p: any) => p.offer.peerId)
  }, { timeout: 20_000, interval: 500 }).toContain(peerId)
}
