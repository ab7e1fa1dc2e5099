import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  decodeHeadsAnnouncement, decodeSyncFrame, decodeSyncRequest, encodeSyncMessage, MAX_ANNOUNCED_HEADS, MAX_SYNC_FRAME_BYTES,
  MAX_SYNC_REQUEST_BYTES, PROJECT_LOG_PROTOCOL, projectTopic, SYNC_BATCH_BYTES, SYNC_IDLE_TIMEOUT_MS, SYNC_MAX_INBOUND_STREAMS,
  SYNC_MAX_OUTBOUND_STREAMS, SYNC_OPEN_TIMEOUT_MS, SYNC_PAGE_BYTES, SYNC_PAGE_ENTRIES, SyncProtocolError, type SyncFrame, type SyncRequest
} from '../../protocol/projects/project-log.js'
import { rateLimitedWarn, type Logger } from '../log.js'
import { streamChannel, type MessageChannel } from '../p2p/message-channel.js'
import { openControlStream } from '../p2p/open-stream.js'
import { checkInvitation } from './ingest.js'
import { keys, type Index } from './log-store.js'
import type { Appended, ProjectLog } from './project-log.js'

export interface ProjectSyncComponents {
  libp2p: Pick<Libp2p<{ pubsub: GossipSub }>, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'addEventListener' | 'removeEventListener' | 'services'>
  log: ProjectLog
  index: Pick<Index, 'get' | 'put'>
  logger: Logger
}

/** Tries of a pull that fails part-way (each resumes where the last kept page ended), and the pause before the next. */
const PULL_ATTEMPTS = 3
const PULL_RETRY_MS = 1_000

export interface PullResult { added: number, refused: number }

/**
 * An owner announces each project it adds this node to once; 16 a minute covers a burst of
 * invitations and keeps a peer announcing made-up projects from making this node dial back
 * thousands of times.
 */
const UNKNOWN_ANNOUNCES_PER_MINUTE = 16

/** Whether `peer` may have one more this minute (at most 1,024 peers tracked at once). */
function perPeerRate (perMinute: number): (peer: string) => boolean {
  const windows = new Map<string, { start: number, count: number }>()
  return peer => {
    const now = Date.now()
    let window = windows.get(peer)
    if (window == null || now - window.start >= 60_000) {
      if (window == null && windows.size >= 1024) windows.delete(windows.keys().next().value as string)
      window = { start: now, count: 0 }
      windows.set(peer, window)
    }
    window.count++
    return window.count <= perMinute
  }
}

/**
 * Keeps members' logs in step: serves `/floe/project-log/1.0.0` (list, announce, pull) to
 * members, pulls from a peer when it has heads this node lacks — learnt on connect (each side
 * lists the other's projects), from gossip on the project's topic after each append, or from a
 * direct announcement (members not on the topic yet) — and publishes this node's appends.
 */
export function projectSync (components: ProjectSyncComponents) {
  const { libp2p, log: projects, logger: log } = components
  /** what a peer's offers and entries make this node warn of: 5 a minute per peer and kind */
  const peerWarn = rateLimitedWarn(log, { perMinute: 5 })
  /** announces of projects not held here that each peer may make this node act on, a minute */
  const unknownAnnounces = perPeerRate(UNKNOWN_ANNOUNCES_PER_MINUTE)
  const pubsub = libp2p.services.pubsub
  const self = libp2p.peerId.toString()
  /** topic → project: a topic names no project (protocol/projects/project-log.ts), members map it back */
  const topics = new Map<string, string>()
  /** project → topic, derived once from its genesis entry */
  const topicOf = new Map<string, string>()
  const pulls = new Map<string, { running: Promise<PullResult>, again: boolean }>()
  const shutdown = new AbortController()
  let stopAppended: (() => void) | undefined

  const isMember = async (pid: string, peer: string): Promise<boolean> => Object.hasOwn((await projects.membership(pid)).members, peer)
  const lacksAny = async (pid: string, heads: string[]): Promise<boolean> => {
    for (const head of heads) if (await projects.entryMeta(pid, head) == null) return true
    return false
  }
  const newestHeads = async (pid: string): Promise<string[]> => (await projects.heads(pid)).sort((a, b) => b.clock - a.clock).slice(0, MAX_ANNOUNCED_HEADS).map(h => h.cid)

  const open = async (peer: PeerId): Promise<MessageChannel> => {
    const stream = await openControlStream(libp2p, peer, PROJECT_LOG_PROTOCOL, { signal: AbortSignal.any([AbortSignal.timeout(SYNC_OPEN_TIMEOUT_MS), shutdown.signal]) })
    return streamChannel(stream, peer.toString(), MAX_SYNC_FRAME_BYTES)
  }
  const idle = (): AbortSignal => AbortSignal.any([AbortSignal.timeout(SYNC_IDLE_TIMEOUT_MS), shutdown.signal])
  const readFrame = async (channel: MessageChannel): Promise<SyncFrame> => {
    const bytes = await channel.read({ signal: idle() })
    if (bytes == null) throw new SyncProtocolError('the peer ended the stream early')
    const frame = decodeSyncFrame(bytes)
    if (frame.type === 'error') throw Object.assign(new Error(frame.message), { name: frame.name })
    return frame
  }

  /** One request on a stream of its own, and the one frame that answers it. */
  const ask = async (peer: PeerId, request: SyncRequest): Promise<SyncFrame> => {
    const channel = await open(peer)
    try {
      await channel.send(encodeSyncMessage(request))
      const frame = await readFrame(channel)
      await channel.close()
      return frame
    } catch (err) {
      channel.abort(err as Error)
      throw err
    }
  }

  /** A pull cut short is tried again (it resumes from the last page kept) while the peer stays connected. */
  const withRetries = async <T>(peer: string, work: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work()
      } catch (err: any) {
        const connected = libp2p.getConnections().some(c => c.remotePeer.toString() === peer)
        if (attempt + 1 >= PULL_ATTEMPTS || !connected || shutdown.signal.aborted || err?.name === 'ProjectNotFoundError' || err?.name === 'NotInvitedError') throw err
        log.info({ peer, err: err?.message, attempt: attempt + 1 }, 'project pull cut short: trying again')
        await sleep(PULL_RETRY_MS * (attempt + 1), undefined, { signal: shutdown.signal }).catch(() => {})
      }
    }
  }

  /** Pulls what `peer` has of a project after the last pull; one at a time per (project, peer). */
  const pull = async (peer: string, pid: string): Promise<PullResult> => {
    const key = `${pid}|${peer}`
    const current = pulls.get(key)
    if (current != null) {
      current.again = true
      return await current.running
    }
    const entry = { running: Promise.resolve({ added: 0, refused: 0 }), again: false }
    entry.running = (async () => {
      const total = { added: 0, refused: 0 }
      try {
        do {
          entry.again = false
          const once = await withRetries(peer, async () => await pullOnce(peer, pid))
          total.added += once.added
          total.refused += once.refused
        } while (entry.again && !shutdown.signal.aborted)
        return total
      } finally {
        pulls.delete(key)
      }
    })()
    pulls.set(key, entry)
    return await entry.running
  }

  /** Before the first pull of a project this node does not hold: the peer shows it was added. */
  const askInvitation = async (peer: string, pid: string): Promise<void> => {
    const frame = await ask(peerIdFromString(peer), { type: 'invite', project: pid })
    if (frame.type !== 'invitation') throw new SyncProtocolError(`unexpected ${frame.type} frame to an invite`)
    await checkInvitation(pid, self, frame.genesis, frame.added)
  }

  /** One page of a pull: its entries as sent, and the server's end frame. */
  const fetchPage = async (peer: string, pid: string, after: number, epoch: string | null): Promise<{ entries: Uint8Array[], end: Extract<SyncFrame, { type: 'end' }> }> => {
    const channel = await open(peerIdFromString(peer))
    const entries: Uint8Array[] = []
    try {
      await channel.send(encodeSyncMessage({ type: 'pull', project: pid, after, epoch }))
      while (true) {
        const frame = await readFrame(channel)
        if (frame.type === 'entries') {
          entries.push(...frame.entries)
          continue
        }
        if (frame.type !== 'end') throw new SyncProtocolError(`unexpected ${frame.type} frame in a pull`)
        await channel.close()
        return { entries, end: frame }
      }
    } catch (err) {
      channel.abort(err as Error)
      throw err
    }
  }

  /**
   * Pulls page after page from where the last pull from this peer ended; each page is taken
   * in and its place kept before the next counts, and the next page is fetched while this
   * one is checked.
   */
  const pullOnce = async (peer: string, pid: string): Promise<PullResult> => {
    const mark = JSON.parse(await components.index.get(keys.peer(pid, peer)) ?? 'null') as { epoch: string, after: number } | null
    if (await projects.meta(pid) == null) await askInvitation(peer, pid)
    const result = { added: 0, refused: 0 }
    let next = fetchPage(peer, pid, mark?.after ?? 0, mark?.epoch ?? null)
    while (true) {
      const page = await next
      if (page.end.more && !shutdown.signal.aborted) {
        next = fetchPage(peer, pid, page.end.seq, page.end.epoch)
        next.catch(() => {}) // awaited on the next turn; not unhandled meanwhile
      }
      const received = await projects.receive(page.entries.map(bytes => ({ bytes })))
      result.added += received.added
      result.refused += received.refused.length
      for (const refused of received.refused.slice(0, 3)) peerWarn(`${peer}:refused`, { peer, project: pid, cid: refused.cid, reason: refused.reason }, 'entry refused')
      for (const project of received.projects) subscribeLogged(project)
      await components.index.put(keys.peer(pid, peer), JSON.stringify({ epoch: page.end.epoch, after: page.end.seq }))
      if (!page.end.more || shutdown.signal.aborted) break
    }
    if (result.added > 0 || result.refused > 0) log.info({ peer, project: pid, added: result.added, refused: result.refused }, 'pulled project entries')
    return result
  }

  const pullLogged = (peer: string, pid: string): void => {
    pull(peer, pid).catch((err: Error) => {
      if (err.name === 'NotInvitedError') peerWarn(`${peer}:not-invited`, { peer, project: pid, err: err.message }, 'a peer offered a project this node was not added to')
      else log.debug({ peer, project: pid, err: err.message }, 'could not pull a project log')
    })
  }

  /** On connect: which of the peer's projects this node is a member of, and pull those it lags on. */
  const exchange = async (peer: PeerId): Promise<void> => {
    const frame = await ask(peer, { type: 'list' })
    if (frame.type !== 'projects') throw new SyncProtocolError(`unexpected ${frame.type} frame to a list`)
    for (const project of frame.projects) {
      if (await lacksAny(project.id, project.heads)) pullLogged(peer.toString(), project.id)
    }
  }

  // ---- serving -------------------------------------------------------------------------

  const serve = async (channel: MessageChannel, request: SyncRequest, peer: string): Promise<void> => {
    if (request.type === 'list') {
      const listed: Array<{ id: string, heads: string[] }> = []
      for (const project of await projects.all()) {
        if (await isMember(project.id, peer)) listed.push({ id: project.id, heads: await newestHeads(project.id) })
      }
      await channel.send(encodeSyncMessage({ type: 'projects', projects: listed.slice(0, 4096) }))
      return
    }
    const meta = await projects.meta(request.project)
    if (request.type === 'announce' && meta == null) {
      // a project this node does not hold yet: it was just added as a member (the pull asks
      // for an invitation first). An owner announces each project once; a peer announcing
      // made-up projects gets a few invitation asks a minute, then none.
      await channel.send(encodeSyncMessage({ type: 'ok' }))
      if (unknownAnnounces(peer)) pullLogged(peer, request.project)
      return
    }
    if (meta == null || !await isMember(request.project, peer)) {
      // the same answer whether the project is unknown or closed to the peer
      await channel.send(encodeSyncMessage({ type: 'error', name: 'ProjectNotFoundError', message: `no project ${request.project} that ${peer} is a member of here` }))
      return
    }
    if (request.type === 'invite') {
      const invitation = await projects.invitation(request.project, peer)
      await channel.send(encodeSyncMessage(invitation == null
        ? { type: 'error', name: 'ProjectNotFoundError', message: `no project ${request.project} that ${peer} is a member of here` }
        : { type: 'invitation', ...invitation }))
      return
    }
    if (request.type === 'announce') {
      await channel.send(encodeSyncMessage({ type: 'ok' }))
      if (await lacksAny(request.project, request.heads)) pullLogged(peer, request.project)
      return
    }
    const after = request.epoch === meta.epoch ? request.after : 0
    let batch: Uint8Array[] = []
    let batchBytes = 0
    let pageEntries = 0
    let pageBytes = 0
    let last = after
    let more = false
    for await (const item of projects.entriesAfter(request.project, after)) {
      if (pageEntries >= SYNC_PAGE_ENTRIES || pageBytes >= SYNC_PAGE_BYTES) {
        more = true
        break
      }
      batch.push(item.bytes)
      batchBytes += item.bytes.byteLength
      pageEntries++
      pageBytes += item.bytes.byteLength
      last = item.seq
      if (batchBytes >= SYNC_BATCH_BYTES) {
        await channel.send(encodeSyncMessage({ type: 'entries', entries: batch }), { signal: idle() })
        batch = []
        batchBytes = 0
      }
    }
    if (batch.length > 0) await channel.send(encodeSyncMessage({ type: 'entries', entries: batch }), { signal: idle() })
    await channel.send(encodeSyncMessage({ type: 'end', epoch: meta.epoch, seq: last, heads: await newestHeads(request.project), more }))
  }

  const handler = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer.toString()
    const channel = streamChannel(stream, peer, MAX_SYNC_REQUEST_BYTES)
    void (async () => {
      const bytes = await channel.read({ signal: idle() })
      if (bytes == null) throw new SyncProtocolError('no request')
      await serve(channel, decodeSyncRequest(bytes), peer)
      await channel.close()
    })().catch((err: Error) => {
      log.debug({ peer, err: err.message }, 'project sync stream failed')
      channel.abort(err)
    })
  }

  // ---- gossip --------------------------------------------------------------------------

  const validate = async (_from: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const pid = topics.get(msg.topic)
    if (pid == null) return TopicValidatorResult.Ignore
    try {
      decodeHeadsAnnouncement(msg.data)
      return await isMember(pid, msg.from.toString()) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
    } catch {
      return TopicValidatorResult.Reject
    }
  }
  const onMessage = (event: CustomEvent<Message>): void => {
    const msg = event.detail
    const pid = topics.get(msg.topic)
    if (pid == null || msg.type !== 'signed') return
    void (async () => {
      const announcement = decodeHeadsAnnouncement(msg.data)
      if (!await lacksAny(pid, announcement.heads)) return
      const author = msg.from.toString()
      // the author holds it; a forwarder may not yet
      const connected = libp2p.getConnections().some(c => c.remotePeer.toString() === author)
      if (connected) pullLogged(author, pid)
    })().catch((err: Error) => { log.debug({ err: err.message }, 'bad heads announcement') })
  }
  /** The project's topic: from its genesis entry, which every member holds (undefined until it does). */
  const topicFor = async (pid: string): Promise<string | undefined> => {
    const known = topicOf.get(pid)
    if (known != null) return known
    for await (const item of projects.entriesAfter(pid, 0)) {
      // the first entry in every node's order is the genesis
      const topic = await projectTopic(item.bytes)
      topicOf.set(pid, topic)
      return topic
    }
    return undefined
  }
  const subscribe = async (pid: string): Promise<void> => {
    const topic = await topicFor(pid)
    if (topic == null || topics.has(topic) || shutdown.signal.aborted) return
    topics.set(topic, pid)
    pubsub.topicValidators.set(topic, validate)
    pubsub.subscribe(topic)
  }
  const subscribeLogged = (pid: string): void => {
    subscribe(pid).catch((err: Error) => { log.warn({ project: pid, err: err.message }, 'could not subscribe to a project\'s topic') })
  }

  /** After an append: gossip the heads; tell members not on the topic (just added) directly. */
  const announce = async (appended: Appended): Promise<void> => {
    const pid = appended.pid
    await subscribe(pid)
    const heads = await newestHeads(pid)
    const topic = await topicFor(pid)
    if (topic == null) return
    await pubsub.publish(topic, encodeSyncMessage({ heads }))
    const onTopic = new Set(pubsub.getSubscribers(topic).map(String))
    const members = (await projects.membership(pid)).members
    const peers = new Map(libp2p.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer]))
    for (const [id, peer] of peers) {
      if (id === self || onTopic.has(id) || !Object.hasOwn(members, id)) continue
      ask(peer, { type: 'announce', project: pid, heads }).catch((err: Error) => { log.debug({ peer: id, err: err.message }, 'could not announce heads') })
    }
  }

  const onIdentify = (event: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (!event.detail.protocols.includes(PROJECT_LOG_PROTOCOL)) return
    exchange(event.detail.peerId).catch((err: Error) => { log.debug({ peer: event.detail.peerId.toString(), err: err.message }, 'could not list projects with a peer') })
  }

  let started = false
  return {
    pull,
    async start (): Promise<void> {
      if (started) return
      started = true
      await libp2p.handle(PROJECT_LOG_PROTOCOL, handler, { maxInboundStreams: SYNC_MAX_INBOUND_STREAMS, maxOutboundStreams: SYNC_MAX_OUTBOUND_STREAMS, runOnLimitedConnection: true })
      pubsub.addEventListener('message', onMessage)
      libp2p.addEventListener('peer:identify', onIdentify as any)
      for (const project of await projects.all()) await subscribe(project.id)
      stopAppended = projects.onAppended(appended => {
        announce(appended).catch((err: Error) => { log.debug({ project: appended.pid, err: err.message }, 'could not announce an append') })
      })
    },
    async stop (): Promise<void> {
      if (!started) return
      started = false
      shutdown.abort(new Error('the daemon is stopping'))
      stopAppended?.()
      libp2p.removeEventListener('peer:identify', onIdentify as any)
      pubsub.removeEventListener('message', onMessage)
      for (const topic of topics.keys()) {
        pubsub.unsubscribe(topic)
        pubsub.topicValidators.delete(topic)
      }
      topics.clear()
      topicOf.clear()
      await libp2p.unhandle(PROJECT_LOG_PROTOCOL)
      await Promise.allSettled([...pulls.values()].map(async p => await p.running))
    }
  }
}

export type ProjectSync = ReturnType<typeof projectSync>
