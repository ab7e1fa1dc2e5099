import { connect } from 'node:net'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { isPrivate, lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Circuit, TCP } from '@multiformats/multiaddr-matcher'
import {
  decodeReach, encodeReach, MAX_REACH_ADDRS, MAX_REACH_MESSAGE_BYTES, REACH_DIAL_TIMEOUT_MS, REACH_MAX_INBOUND_STREAMS,
  REACH_MIN_INTERVAL_MS, REACH_PROTOCOL, REACH_TIMEOUT_MS, ReachRequest, ReachResponse
} from '../../protocol/p2p/reach.js'
import type { Reachability as ReachabilityView } from '../../protocol/p2p/peer.js'

export interface ReachabilityComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  addressManager: AddressManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface ReachabilityInit {
  /** confirm the address peers observe this node at when it is private, so DCUtR offers it for hole punching */
  holePunch: boolean
  /** how often the answer is asked again */
  recheckMs?: number
}

/** Peers asked at once: one answer decides; a few guard against one that cannot dial out. */
const CHECKERS = 3
const RECHECK_MS = 5 * 60_000
/** After a new connection to a public peer, while the answer is still unknown. */
const FIRST_CHECK_DELAY_MS = 1_500
/** Peers remembered for the per-peer rate limit; the oldest are forgotten past it. */
const MAX_RATE_ENTRIES = 1024

function isPublicTcp (ma: Multiaddr): boolean {
  return TCP.exactMatch(ma.decapsulateCode(421)) && !Circuit.matches(ma) && isPrivate(ma) !== true
}

function ipOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
}

async function tcpAnswers (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect({ host, port, timeout: REACH_DIAL_TIMEOUT_MS })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.once('connect', () => { done(true) })
    socket.once('timeout', () => { done(false) })
    socket.once('error', () => { done(false) })
  })
}

/**
 * Whether this node can be reached from the internet: public (a peer opened a connection to one
 * of its addresses), private (peers tried and none answered: it is behind a NAT or firewall, and
 * reached through relays), or unknown (no public peer asked yet). Asks connected public peers
 * over `/floe/reach/1.0.0` and answers their asks. A public answer confirms the addresses that
 * answered (libp2p then advertises them); a private one confirms the address peers observe
 * this node at, which is what DCUtR hands the other side for hole punching.
 */
export class Reachability implements Startable {
  private readonly log: Logger
  private state: ReachabilityView = { status: 'unknown', checkedAt: null, checkedBy: [], publicAddrs: [], observedAddrs: [] }
  private readonly served = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private soon: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private started = false

  constructor (private readonly components: ReachabilityComponents, private readonly init: ReachabilityInit) {
    this.log = components.logger.forComponent('floe:reachability')
    this.onConnect = this.onConnect.bind(this)
  }

  readonly [Symbol.toStringTag] = '@floe/reachability'

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.components.registrar.handle(REACH_PROTOCOL, (stream, connection) => {
      this.serve(stream, connection).catch((err: Error) => { this.log('reach request from %p failed: %s', connection.remotePeer, err.message); stream.abort(err) })
    }, { maxInboundStreams: REACH_MAX_INBOUND_STREAMS, maxOutboundStreams: CHECKERS })
    this.components.events.addEventListener('peer:identify', this.onConnect)
    this.timer = setInterval(() => { this.checkSoon(0) }, this.init.recheckMs ?? RECHECK_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.timer)
    clearTimeout(this.soon)
    this.components.events.removeEventListener('peer:identify', this.onConnect)
    await this.components.registrar.unhandle(REACH_PROTOCOL)
    await this.running
  }

  /** What `floe id` shows. */
  view (): ReachabilityView {
    return { ...this.state, observedAddrs: [...new Set([...this.state.observedAddrs, ...this.components.addressManager.getObservedAddrs().map(String)])] }
  }

  /** Ask again now (tests, and `floe id --check`); resolves when the answer is in. */
  async check (): Promise<ReachabilityView> {
    this.running ??= this.run().finally(() => { this.running = undefined })
    await this.running
    return this.view()
  }

  private onConnect (event: CustomEvent<{ connection: Connection }>): void {
    const connection = event.detail.connection
    if (this.state.status !== 'unknown' || connection.limits != null || !isPublicTcp(connection.remoteAddr)) return
    this.checkSoon(FIRST_CHECK_DELAY_MS)
  }

  private checkSoon (ms: number): void {
    if (!this.started || this.soon != null) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      this.check().catch((err: Error) => { this.log.error('reachability check failed: %s', err.message) })
    }, ms)
    this.soon.unref()
  }

  private candidates (): Multiaddr[] {
    const seen = new Set<string>()
    const out: Multiaddr[] = []
    for (const { multiaddr: ma } of this.components.addressManager.getAddressesWithMetadata()) {
      const bare = ma.decapsulateCode(421)
      if (!isPublicTcp(bare) || seen.has(bare.toString())) continue
      seen.add(bare.toString())
      out.push(bare)
    }
    return out.slice(0, MAX_REACH_ADDRS)
  }

  private async checkers (): Promise<Connection[]> {
    const byPeer = new Map<string, Connection>()
    for (const conn of this.components.connectionManager.getConnections()) {
      if (conn.status !== 'open' || conn.limits != null || !isPublicTcp(conn.remoteAddr) || byPeer.has(conn.remotePeer.toString())) continue
      const speaks = await this.components.peerStore.get(conn.remotePeer).then(p => p.protocols.includes(REACH_PROTOCOL), () => false)
      if (speaks) byPeer.set(conn.remotePeer.toString(), conn)
    }
    return [...byPeer.values()].slice(0, CHECKERS)
  }

  private async run (): Promise<void> {
    const candidates = this.candidates()
    const checkers = await this.checkers()
    if (checkers.length === 0) return
    const answers = await Promise.all(checkers.map(async conn => await this.ask(conn, candidates).catch((err: Error) => {
      this.log('peer %p could not check reachability: %s', conn.remotePeer, err.message)
      return undefined
    })))
    const heard = answers.flatMap((answer, i) => answer == null ? [] : [{ peer: checkers[i]?.remotePeer.toString() ?? '', answer }])
    if (heard.length === 0) return
    const reachable = new Set(heard.flatMap(h => h.answer.results.filter(r => r.result === 'reachable').map(r => r.addr)))
    const status = reachable.size > 0 ? 'public' : 'private'
    if (status !== this.state.status) this.log('reachability: %s', status)
    for (const addr of reachable) this.components.addressManager.confirmObservedAddr(multiaddr(addr), { type: 'observed' })
    if (status === 'private' && this.init.holePunch) {
      // The address this node's dial port is mapped to (punch-tcp.ts): DCUtR offers only confirmed ones.
      for (const h of heard) {
        const observed = multiaddr(h.answer.observed)
        if (isPublicTcp(observed)) this.components.addressManager.confirmObservedAddr(observed, { type: 'observed' })
      }
    }
    this.state = {
      status,
      checkedAt: new Date().toISOString(),
      checkedBy: heard.map(h => h.peer),
      publicAddrs: [...reachable],
      // once confirmed, libp2p keeps an observed address as a mapping of its listener, no longer as observed
      observedAddrs: [...new Set(heard.map(h => h.answer.observed))]
    }
  }

  private async ask (conn: Connection, candidates: Multiaddr[]): Promise<ReachResponse> {
    const signal = AbortSignal.timeout(REACH_TIMEOUT_MS)
    const stream = await conn.newStream(REACH_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REACH_MESSAGE_BYTES })
      await lp.write(encodeReach({ addrs: candidates.map(String) }), { signal })
      const answer = decodeReach(ReachResponse, (await lp.read({ signal })).subarray())
      await stream.close({ signal })
      if (answer.error != null) throw new Error(answer.error)
      return answer
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(REACH_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_REACH_MESSAGE_BYTES })
    const request = decodeReach(ReachRequest, (await lp.read({ signal })).subarray())
    const peer = connection.remotePeer.toString()
    const observed = connection.remoteAddr.decapsulateCode(421).toString()
    const last = this.served.get(peer)
    if (last != null && Date.now() - last < REACH_MIN_INTERVAL_MS) {
      await lp.write(encodeReach({ observed, results: [], error: `asked again within ${REACH_MIN_INTERVAL_MS / 1000} s` }), { signal })
      await stream.close({ signal })
      return
    }
    this.served.delete(peer)
    this.served.set(peer, Date.now())
    if (this.served.size > MAX_RATE_ENTRIES) this.served.delete(this.served.keys().next().value as string)
    const from = ipOf(connection.remoteAddr)
    const results = await Promise.all(request.addrs.map(async text => {
      const ma = multiaddr(text)
      const ip = ipOf(ma)
      const port = Number(ma.getComponents().find(c => c.name === 'tcp')?.value)
      // only the asker's own IP, over TCP, never through a relay: no dials aimed at a third party
      if (connection.limits != null || ip == null || ip !== from || !isPublicTcp(ma) || !Number.isSafeInteger(port)) return { addr: text, result: 'refused' as const }
      return { addr: text, result: await tcpAnswers(ip, port) ? 'reachable' as const : 'unreachable' as const }
    }))
    await lp.write(encodeReach({ observed, results }), { signal })
    await stream.close({ signal })
  }
}

export function reachability (init: ReachabilityInit): (components: ReachabilityComponents) => Reachability {
  return components => new Reachability(components, init)
}
