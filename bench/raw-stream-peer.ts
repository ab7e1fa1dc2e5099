// The raw side of bench/content-transfer.ts: a libp2p node with floe's transport stack (TCP,
// noise, yamux) that answers /floe-bench/raw/1.0.0 by sending a file's bytes on one stream,
// with backpressure, and nothing else. It prints its multiaddr, then serves until killed.
// Usage: node dist/bench/raw-stream-peer.js FILE
import { createReadStream } from 'node:fs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

const [file, protocol] = process.argv.slice(2)
if (file == null || protocol == null) throw new Error('usage: raw-stream-peer FILE PROTOCOL')
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
await node.handle(protocol, async stream => {
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
})
console.log(node.getMultiaddrs()[0]?.toString())
