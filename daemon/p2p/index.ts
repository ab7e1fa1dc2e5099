export { createP2pHost, type P2pHost, type P2pHostOptions } from './host.js'
export { listPeers, connectPeer, parseMultiaddr, DIAL_TIMEOUT_MS } from './peers.js'
export { discoveryDialer } from './discovery-dialer.js'
export { DialError, DialTimeoutError, InvalidMultiaddrError } from './errors.js'
