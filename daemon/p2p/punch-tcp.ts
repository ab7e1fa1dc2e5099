import { createServer } from 'node:net'
import { serviceCapabilities, transportSymbol, type CreateListenerOptions, type DialTransportOptions, type Listener, type Transport, type Connection, type PeerId } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

type TcpComponents = Parameters<ReturnType<typeof tcp>>[0]

/** A free TCP port of this machine, found by letting the kernel choose one and releasing it. */
export async function freeTcpPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host: '0.0.0.0', exclusive: true }, () => {
      const address = server.address()
      server.close(() => { typeof address === 'object' && address != null ? resolve(address.port) : reject(new Error('no port')) })
    })
  })
}

/** The dial priority DCUtR gives its hole-punching dials (@libp2p/dcutr). */
const DCUTR_DIAL_PRIORITY = 100

/** Errors of binding the fixed dial port: it is taken (a listener grabbed it) or this 4-tuple is in TIME_WAIT. */
const BIND_ERRORS = new Set(['EADDRINUSE', 'EADDRNOTAVAIL'])

/**
 * TCP whose connections to public addresses leave from one fixed local port (`dialPort`).
 *
 * Why: behind a NAT that maps endpoint-independently (most home routers), every connection from
 * one local port gets one public port. Peers then observe this node at the same public
 * address (identify), which is the address DCUtR hands the other side: both sides dial each
 * other's mapped address from their own mapped port at the same moment (TCP simultaneous
 * open, which libp2p's upgrader supports with `initiator: false`), and each NAT lets the other's
 * SYN in as the answer to its own. Node cannot put SO_REUSEPORT on a client socket, so the dial
 * port cannot be the listen port; libuv sets SO_REUSEADDR, so many connections (to distinct
 * peers) share the dial port. Loopback and private destinations gain nothing from it and dial
 * from an ephemeral port, as does any dial whose bind fails (the same peer address twice, a
 * 4-tuple still in TIME_WAIT). So does DCUtR's first, one-sided try at a peer this node reaches
 * through a relay: from the dial port it would leave a mapping in this node's NAT that lets the
 * peer's punching SYN in a moment before this node's own punching socket exists, and the
 * kernel's RST would kill the punch.
 */
export function punchingTcp (init: { dialPort?: number }): (components: TcpComponents) => Transport {
  return (components) => {
    if (init.dialPort == null) return tcp()(components)
    const punch = tcp({ dialOpts: { localPort: init.dialPort } as any })(components)
    const plain = tcp()(components)
    // libp2p hands transports all its components; the connection manager says which peers are reached through a relay now
    const connections = (components as unknown as { connectionManager?: { getConnections(peer?: PeerId): Connection[] } }).connectionManager
    const self = (components as unknown as { peerId: PeerId }).peerId.toString()
    /**
     * A punched TCP connection is one connection both sides dialled (simultaneous open), so
     * each must be told which end runs the handshake as initiator: DCUtR asks for it
     * (`initiator: false` on one side) but libp2p's dial queue drops the option on the way to
     * the transport, and both ended as noise initiators ("handshake stage 1 validation fail").
     * Both sides know both peer ids: the smaller one initiates, the other responds.
     */
    const punchRole = (options: DialTransportOptions): DialTransportOptions => {
      const peer = (options as { peerId?: PeerId }).peerId
      if ((options as { priority?: number }).priority !== DCUTR_DIAL_PRIORITY || peer == null) return options
      if (self < peer.toString()) return options
      // The responder's end must also be the inbound end of the socket for the muxer: yamux picks
      // its stream ids (client odd, server even) from the socket's direction, and both ends of a
      // simultaneous open are "outbound" — both would open stream 1 and the first ping kills it.
      const upgrader = options.upgrader
      const asResponder = Object.create(upgrader) as typeof upgrader
      asResponder.upgradeOutbound = async (maConn, opts) => {
        (maConn as { direction: string }).direction = 'inbound'
        return await upgrader.upgradeOutbound(maConn, { ...opts, initiator: false } as typeof opts)
      }
      return { ...options, upgrader: asResponder, initiator: false } as DialTransportOptions
    }
    const relayedTo = (options: DialTransportOptions): boolean => {
      const peer = (options as { peerId?: PeerId }).peerId
      return peer != null && connections?.getConnections(peer).some(c => c.limits != null) === true
    }
    const transport: Transport & { [serviceCapabilities]: string[] } = {
      [Symbol.toStringTag]: '@floe/punching-tcp',
      [transportSymbol]: true,
      [serviceCapabilities]: ['@libp2p/transport'],
      dial: async (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> => {
        if (isPrivate(ma) === true || (relayedTo(options) && (options as { priority?: number }).priority !== DCUTR_DIAL_PRIORITY)) return await plain.dial(ma, options)
        try {
          return await punch.dial(ma, punchRole(options))
        } catch (err: any) {
          if (!BIND_ERRORS.has(err?.code) && !/EADDRINUSE|EADDRNOTAVAIL/.test(String(err?.message))) throw err
          return await plain.dial(ma, options)
        }
      },
      createListener: (options: CreateListenerOptions): Listener => plain.createListener(options),
      listenFilter: (addrs: Multiaddr[]) => plain.listenFilter(addrs),
      dialFilter: (addrs: Multiaddr[]) => plain.dialFilter(addrs)
    }
    return transport
  }
}
