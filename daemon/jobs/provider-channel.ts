import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { JOB_PROTOCOLS, MAX_JOB_MESSAGE_BYTES } from '../../protocol/jobs/wire.js'
import { openControlStream } from '../p2p/open-stream.js'
import { localChannelPair, streamChannel, type MessageChannel } from '../p2p/message-channel.js'

export interface ProviderChannelComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'dialProtocol' | 'peerStore' | 'getConnections'>
  /** where a provider said it listens (its offer) */
  addrsOf: (peerId: string) => string[]
  /** this node's own provider side, for jobs it runs itself */
  serveLocal: (channel: MessageChannel) => void
  /** the protocol (versions newest first) and its message cap: jobs' by default, or workspaces' tunnels */
  protocol?: string | readonly string[]
  maxMessageBytes?: number
}

/**
 * Opens a conversation with a provider (a job's, or a workspace's tunnel): a stream, dialled at the
 * addresses of its offer when not connected; or, for this node itself (libp2p does not dial
 * itself), an in-process channel to its own provider side.
 */
export function providerChannel ({ libp2p, addrsOf, serveLocal, protocol = JOB_PROTOCOLS, maxMessageBytes = MAX_JOB_MESSAGE_BYTES }: ProviderChannelComponents) {
  const self = libp2p.peerId.toString()
  return async (provider: string, signal: AbortSignal): Promise<MessageChannel> => {
    if (provider === self) {
      const [client, server] = localChannelPair(self, self)
      serveLocal(server)
      return Object.assign(client, { protocol: typeof protocol === 'string' ? protocol : protocol[0] })
    }
    const peer = peerIdFromString(provider)
    const addrs = addrsOf(provider)
    if (addrs.length > 0) await libp2p.peerStore.merge(peer, { multiaddrs: addrs.map(a => multiaddr(a)) })
    const stream = await openControlStream(libp2p, peer, typeof protocol === 'string' ? protocol : [...protocol], { signal })
    // the version agreed: a job's stream carries metering from /floe/job/1.2.0 on
    return Object.assign(streamChannel(stream, provider, maxMessageBytes), { protocol: stream.protocol })
  }
}
