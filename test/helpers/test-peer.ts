import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'

/**
 * A libp2p node for a test to play a peer with: a fresh key (or the one given), on loopback,
 * with the stack a floe daemon has (tcp, noise, yamux, identify) and none of its protocols —
 * the test handles what it wants to speak.
 */
export async function testPeerNode (privateKey?: PrivateKey): Promise<{ node: Libp2p<{ identify: ReturnType<ReturnType<typeof identify>> }>, privateKey: PrivateKey }> {
  const key = privateKey ?? await generateKeyPair('Ed25519')
  const node = await createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  return { node, privateKey: key }
}
