export { p2pHostOptions, type P2pHost, type P2pHostOptions, type P2pServices } from './host.js'
export { listPeers, connectPeer, parseMultiaddr, DIAL_TIMEOUT_MS } from './peers.js'
export { discoveryDialer } from './discovery-dialer.js'
export { DialError, DialTimeoutError, InvalidMultiaddrError } from './errors.js'
