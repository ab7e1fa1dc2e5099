import { createServer, type Server } from 'node:net'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeReach, encodeReach, MAX_REACH_MESSAGE_BYTES, REACH_PROTOCOL, ReachResponse } from '../../protocol/p2p/reach.js'
import { floeJson, resources, type RunningDaemon } from '../helpers/floe.js'
import { testPeerNode } from '../helpers/test-peer.js'

// A peer uses floe's dial-back check (/floe/reach/1.0.0) to aim the daemon's dials at someone
// else, to make it dial in a loop, or to feed it an oversized request.

const r = resources()
let daemon: RunningDaemon
let target: Server
let targetPort = 0
let dialsSeen = 0

beforeAll(async () => {
  daemon = await r.start()
  // a TCP server the attacker names: it counts every connection the daemon opens to it
  target = createServer(socket => { dialsSeen++; socket.destroy() })
  await new Promise<void>(resolve => target.listen(0, '127.0.0.1', resolve))
  targetPort = (target.address() as { port: number }).port
}, 60_000)

afterAll(async () => {
  target.close()
  await r.cleanup()
})

async function ask (addrs: string[] | Uint8Array): Promise<ReachResponse> {
  const { node } = await testPeerNode()
  try {
    const stream = await node.dialProtocol(multiaddr((await floeJson(['id', '--home', daemon.home])).addresses[0]), REACH_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_REACH_MESSAGE_BYTES })
    await lp.write(addrs instanceof Uint8Array ? addrs : encodeReach({ addrs }))
    return decodeReach(ReachResponse, (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
  } finally {
    await node.stop()
  }
}

describe('/floe/reach/1.0.0 from a hostile peer', () => {
  it('dials no address but the asker\'s own public IP: a third party, a private address and a relayed one are refused undialled', async () => {
    const answer = await ask([
      `/ip4/127.0.0.1/tcp/${targetPort}`, // the asker's own IP, but private: no reachability to learn
      '/ip4/8.8.8.8/tcp/53', // someone else's public address
      `/ip4/6.0.0.1/tcp/4001/p2p/${daemon.endpoint.peerId}/p2p-circuit`
    ])
    expect(answer.results.map(x => x.result)).toEqual(['refused', 'refused', 'refused'])
    expect(answer.observed).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(dialsSeen).toBe(0)
  })

  it('refuses more than 8 addresses and an oversized request by ending the stream, and the daemon goes on answering', async () => {
    await expect(ask(Array.from({ length: 9 }, (_, i) => `/ip4/1.2.3.${i}/tcp/1`))).rejects.toThrow()
    const huge = new TextEncoder().encode(JSON.stringify({ addrs: ['/ip4/1.2.3.4/tcp/1'], pad: 'x'.repeat(MAX_REACH_MESSAGE_BYTES) }))
    await expect(ask(huge)).rejects.toThrow()
    expect((await floeJson(['id', '--home', daemon.home])).peerId).toBe(daemon.endpoint.peerId)
    expect(dialsSeen).toBe(0)
  })
})
