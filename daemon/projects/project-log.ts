import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import {
  encodeEntry, entryCid, entrySigningPayload, ENTRY_SIGNING_DOMAIN, JOB_NUMBER_RANGE, MAX_PREV, ProjectName, sortLinks,
  type Entry, type EntryBody, type EntryPayload, type EntryType
} from '../../protocol/projects/entry.js'
import type { ProjectView } from '../../protocol/projects/view.js'
import type { Logger } from '../log.js'
import { signRecord } from '../p2p/signing.js'
import { takeTurns } from '../turns.js'
import { isProjectPinKey } from '../store/pin-reasons.js'
import { AmbiguousProjectError, InvalidProjectRequestError, ProjectNotFoundError, ProjectPermissionError } from './errors.js'
import { checkAhead, ingestEntry } from './ingest.js'
import type { JobRow } from './job-rows.js'
import { keys, Overlay, type EntryMeta, type Index, type LogState, type Membership, type ProjectMeta } from './log-store.js'

export interface ProjectLogComponents {
  self: string
  privateKey: PrivateKey
  /** this node's owner name: `floe init mnist` makes `<owner>/mnist` */
  owner: string
  index: Index
  blockstore: Pick<Blockstore, 'put' | 'get' | 'has'>
  log: Logger
}

export interface Appended { pid: string, cid: CID, entry: Entry }

/** What a batch of received entries did: how many were new, and each refused one with why. */
export interface Received { added: number, held: number, refused: Array<{ cid: string, reason: string }>, projects: Set<string> }

/** The project every job from a folder not linked with `floe init` goes to. */
export const DEFAULT_PROJECT_NAME = 'default'

/** Entries taken in per index batch when receiving. */
const RECEIVE_BATCH = 4_000

/**
 * Projects and their logs on this node: create, append (signed by this node's key), take in
 * received entries, and read the views (heads, members, job rows, history). Every write,
 * local or received, goes through `ingestEntry` and lands in one atomic, synced index batch,
 * so a crash at any moment leaves the log as it was before the entry or with it whole.
 * Writes take turns (one queue), so each entry sees every entry before it.
 */
export function projectLog (components: ProjectLogComponents) {
  const { index, log, self } = components
  const listeners = new Set<(appended: Appended) => void>()
  const newEpoch = (): string => randomBytes(8).toString('hex')

  const inTurn = takeTurns()

  const meta = async (pid: string): Promise<ProjectMeta | undefined> => {
    const value = await index.get(keys.project(pid))
    return value == null ? undefined : JSON.parse(value) as ProjectMeta
  }
  const state = async (pid: string): Promise<LogState> => JSON.parse(await index.get(keys.state(pid)) ?? '{"seq":0,"mv":0,"jobs":0}') as LogState
  const membership = async (pid: string): Promise<Membership> => {
    const { mv } = await state(pid)
    return JSON.parse(await index.get(keys.membership(pid, mv)) ?? '{"members":{},"lastSlot":0}') as Membership
  }
  const heads = async (pid: string): Promise<Array<{ cid: string, clock: number }>> => {
    const found: Array<{ cid: string, clock: number }> = []
    const prefix = keys.headPrefix(pid)
    for await (const [key, value] of index.iterator({ gt: prefix, lt: prefix + '\xff' })) found.push({ cid: key.slice(prefix.length), clock: Number(value) })
    return found
  }

  const all = async (): Promise<ProjectMeta[]> => {
    const found: ProjectMeta[] = []
    for await (const value of index.values({ gt: keys.projectPrefix, lt: keys.projectPrefix + '\xff' })) found.push(JSON.parse(value) as ProjectMeta)
    return found
  }

  /**
   * Appends an entry written by this node; resolves once it is durable. Appends that arrive
   * while one is being written wait for it, then are written together: each links the one
   * before (so they chain as if written one by one) and all share one synced index write.
   */
  const append = async <T extends EntryType>(pid: string | null, type: T, payload: EntryPayload<T>): Promise<Appended> => {
    const appended = await new Promise<Appended>((resolve, reject) => {
      waiting.push({ pid, type, payload: payload as Record<string, unknown>, resolve, reject })
      if (waiting.length === 1) void inTurn(writeWaiting)
    })
    for (const listener of listeners) listener(appended)
    return appended
  }
  const waiting: Array<{ pid: string | null, type: EntryType, payload: Record<string, unknown>, resolve: (appended: Appended) => void, reject: (err: Error) => void }> = []

  /** The appends waiting, written as one group (see append). */
  const writeWaiting = async (): Promise<void> => {
    const group = waiting.splice(0)
    const overlay = new Overlay(index)
    /** each project's heads as the group's entries change them */
    const current = new Map<string, Array<{ cid: string, clock: number }>>()
    const written: Array<{ request: (typeof group)[number], appended: Appended, bytes: Uint8Array }> = []
    for (const request of group) {
      try {
        const { pid } = request
        const known = pid == null ? [] : current.get(pid) ?? await heads(pid)
        // the newest heads first; past MAX_PREV the rest are merged by later entries
        const linked = [...known].sort((a, b) => b.clock - a.clock || (a.cid < b.cid ? -1 : 1)).slice(0, MAX_PREV)
        const prev = sortLinks(linked.map(h => CID.parse(h.cid)))
        const clock = pid == null ? 0 : Math.max(...linked.map(h => h.clock)) + 1
        const body: EntryBody = { v: 1, project: pid == null ? null : CID.parse(pid), prev, clock, author: self, at: Date.now(), type: request.type, payload: request.payload }
        const sig = await signRecord(components.privateKey, ENTRY_SIGNING_DOMAIN, entrySigningPayload(body))
        const bytes = encodeEntry({ ...body, sig })
        const ingested = await ingestEntry(overlay, undefined, bytes, newEpoch)
        const gone = new Set(linked.map(h => h.cid))
        current.set(ingested.pid, [...known.filter(h => !gone.has(h.cid)), { cid: ingested.cid.toString(), clock }])
        written.push({ request, appended: { pid: ingested.pid, cid: ingested.cid, entry: ingested.entry }, bytes })
      } catch (err) {
        // refused: it wrote nothing to the group (an entry's writes come after all its checks)
        request.reject(err as Error)
      }
    }
    try {
      await Promise.all(written.map(async w => { await components.blockstore.put(w.appended.cid, w.bytes) }))
      await overlay.commit({ sync: true })
    } catch (err) {
      for (const w of written) w.request.reject(err as Error)
      return
    }
    for (const w of written) w.request.resolve(w.appended)
  }

  /**
   * Takes in entries received from a peer (or a CAR file), in an order where each comes after
   * the entries it links. Each is checked; a refused one is reported and skipped (so are the
   * entries that link it), the rest are kept.
   */
  const receive = async (entries: Array<{ cid?: CID, bytes: Uint8Array }>): Promise<Received> => await inTurn(async () => {
    const result: Received = { added: 0, held: 0, refused: [], projects: new Set() }
    for (let start = 0; start < entries.length; start += RECEIVE_BATCH) {
      const overlay = new Overlay(index)
      const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
      const batch = entries.slice(start, start + RECEIVE_BATCH)
      const ahead = batch.map(block => checkAhead(block.bytes))
      for (const [i, block] of batch.entries()) {
        try {
          const ingested = await ingestEntry(overlay, block.cid, block.bytes, newEpoch, ahead[i])
          if (!ingested.added) { result.held++; continue }
          result.added++
          result.projects.add(ingested.pid)
          blocks.push({ cid: ingested.cid, bytes: block.bytes })
        } catch (err: any) {
          if (err?.name !== 'EntryRefusedError' && err?.name !== 'InvalidEntryError') throw err
          result.refused.push({ cid: (block.cid ?? await entryCid(block.bytes)).toString(), reason: err.message })
        }
      }
      await Promise.all(blocks.map(async block => await components.blockstore.put(block.cid, block.bytes)))
      await overlay.commit({ sync: true })
    }
    if (result.refused.length > 0) log.warn({ refused: result.refused.length, first: result.refused[0]?.reason }, 'entries refused')
    return result
  })

  // creating a project takes turns, so two `floe init mnist` (or two first jobs) make one
  const createOnce = takeTurns()

  const resolve = async (ref: string): Promise<ProjectMeta> => {
    const projects = await all()
    const byId = projects.find(p => p.id === ref)
    if (byId != null) return byId
    const matches = ref.includes('/') ? projects.filter(p => p.name === ref) : projects.filter(p => p.name.split('/')[1] === ref)
    // a short name is first one's own
    const own = matches.filter(p => p.ownerPeer === self)
    const chosen = own.length === 1 ? own : matches
    if (chosen.length === 1) return chosen[0] as ProjectMeta
    if (chosen.length === 0) throw new ProjectNotFoundError(`no project "${ref}" on this node; see floe projects (floe init NAME creates one)`)
    throw new AmbiguousProjectError(`"${ref}" names ${chosen.length} projects: ${chosen.map(p => `${p.name} (${p.id})`).join(', ')}; use OWNER/NAME or the id`)
  }

  const view = async (p: ProjectMeta): Promise<ProjectView> => {
    const [s, m, h] = await Promise.all([state(p.id), membership(p.id), heads(p.id)])
    return { id: p.id, name: p.name, ownerPeer: p.ownerPeer, createdAt: p.createdAt, members: m.members, entries: s.seq, heads: h.map(x => x.cid).sort(), jobs: s.jobs, writable: Object.hasOwn(m.members, self) }
  }

  const findDefaultProject = async (): Promise<ProjectMeta | undefined> => (await all()).find(p => p.ownerPeer === self && p.name === `${components.owner}/${DEFAULT_PROJECT_NAME}`)

  return {
    append,
    receive,
    resolve,
    meta,
    heads,
    membership,
    /** called after each entry this node appends (gossip announces it) */
    onAppended (listener: (appended: Appended) => void): () => void {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },

    async list (): Promise<ProjectView[]> {
      return await Promise.all((await all()).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)).map(view))
    },
    async show (ref: string): Promise<ProjectView> {
      return await view(await resolve(ref))
    },
    all,

    /** `floe init NAME`: the project by that name (own first), or a new one owned by this node. */
    async init (name: string): Promise<{ project: ProjectView, created: boolean }> {
      return await createOnce(async () => {
        try {
          return { project: await view(await resolve(name)), created: false }
        } catch (err: any) {
          if (err?.name !== 'ProjectNotFoundError') throw err
        }
        const [owner, short] = name.includes('/') ? name.split('/', 2) as [string, string] : [components.owner, name]
        if (owner !== components.owner) throw new ProjectNotFoundError(`no project ${name} on this node: a member's daemon receives a project once its owner adds it (floe project add-member); this node creates projects as ${components.owner}/NAME`)
        const parsed = ProjectName.safeParse(short)
        if (!parsed.success) throw new InvalidProjectRequestError(`"${short}" is not a project name: ${parsed.error.issues[0]?.message ?? 'bad name'}`)
        const created = await append(null, 'project.created', { owner, name: short })
        log.info({ project: created.pid, name: `${owner}/${short}` }, 'project created')
        return { project: await view(await meta(created.pid) as ProjectMeta), created: true }
      })
    },

    /** This node's own `default` project, when it has been made (reads never make it). */
    /** This node's own `default` project, when it has been made (reads never make it). */
    findDefaultProject,

    /** This node's own `default` project, made on first use. */
    async defaultProject (): Promise<ProjectMeta> {
      return await findDefaultProject() ?? await createOnce(async () => {
        const own = await findDefaultProject()
        if (own != null) return own
        const created = await append(null, 'project.created', { owner: components.owner, name: DEFAULT_PROJECT_NAME })
        return await meta(created.pid) as ProjectMeta
      })
    },

    /** Appends, after checking this node may (a member; the owner for membership). */
    async write<T extends EntryType>(pid: string, type: T, payload: EntryPayload<T>): Promise<Appended> {
      const m = await membership(pid)
      if (!Object.hasOwn(m.members, self)) throw new ProjectPermissionError(`this node is not a member of project ${(await meta(pid))?.name ?? pid}; its owner adds members with floe project add-member`)
      try {
        return await append(pid, type, payload)
      } catch (err: any) {
        if (err?.name === 'EntryRefusedError') throw new InvalidProjectRequestError(err.message.replace(/^entry \S+ of project \S+ refused: /, ''))
        throw err
      }
    },

    /** The next job number in this node's range of the project. */
    async nextJobNumber (pid: string): Promise<number> {
      const slot = (await membership(pid)).members[self]
      if (slot == null) throw new ProjectPermissionError(`this node is not a member of project ${(await meta(pid))?.name ?? pid}`)
      const low = slot * JOB_NUMBER_RANGE
      for await (const key of index.keys({ gt: keys.job(pid, low), lt: keys.job(pid, low + JOB_NUMBER_RANGE + 1), reverse: true, limit: 1 })) {
        return Number(key.slice(keys.jobPrefix(pid).length)) + 1
      }
      return low + 1
    },

    async jobRows (pid: string): Promise<JobRow[]> {
      const rows: JobRow[] = []
      const prefix = keys.jobPrefix(pid)
      for await (const value of index.values({ gt: prefix, lt: prefix + '\xff' })) rows.push(JSON.parse(value) as JobRow)
      return rows
    },
    async jobRow (pid: string, number: number): Promise<JobRow | undefined> {
      const value = await index.get(keys.job(pid, number))
      return value == null ? undefined : JSON.parse(value) as JobRow
    },
    async jobRowById (jobId: string): Promise<JobRow | undefined> {
      const where = await index.get(keys.jobId(jobId))
      if (where == null) return undefined
      const split = where.lastIndexOf('!')
      const value = await index.get(keys.job(where.slice(0, split), Number(where.slice(split + 1))))
      return value == null ? undefined : JSON.parse(value) as JobRow
    },
    /** the jobs of a project with this spec */
    async jobsWithSpec (pid: string, specCid: string): Promise<JobRow[]> {
      const rows: JobRow[] = []
      const prefix = keys.specPrefix(pid, specCid)
      for await (const key of index.keys({ gt: prefix, lt: prefix + '\xff' })) {
        const value = await index.get(keys.job(pid, Number(key.slice(prefix.length))))
        if (value != null) rows.push(JSON.parse(value) as JobRow)
      }
      return rows
    },

    /** Entries after `after` in this node's order, with its numbering's epoch. */
    async * entriesAfter (pid: string, after: number): AsyncGenerator<{ seq: number, cid: string, bytes: Uint8Array }> {
      const prefix = keys.seqPrefix(pid)
      for await (const [key, value] of index.iterator({ gt: keys.seq(pid, after), lt: prefix + '\xff' })) {
        const { cid, bytes } = JSON.parse(value) as { cid: string, bytes: string }
        yield { seq: Number(key.slice(prefix.length)), cid, bytes: Buffer.from(bytes, 'base64') }
      }
    },
    /**
     * What shows `peer` it was added to a project (the sync's invite): the genesis entry, the
     * first in every node's order, and the first member.added naming `peer` (proof enough that
     * the owner added it; whether it still may read is the pull's own check). Undefined when
     * there is none. Reads the log up to that entry, for the rare first pull of a project.
     */
    async invitation (pid: string, peer: string): Promise<{ genesis: Uint8Array, added: Uint8Array } | undefined> {
      let genesis: Uint8Array | undefined
      for await (const item of this.entriesAfter(pid, 0)) {
        if (genesis == null) {
          genesis = item.bytes
          continue
        }
        const entry = dagCbor.decode<{ type?: unknown, payload?: { peer?: unknown } }>(item.bytes)
        if (entry.type === 'member.added' && entry.payload?.peer === peer) return { genesis, added: item.bytes }
      }
      return undefined
    },
    state,
    async entryMeta (pid: string, cid: string): Promise<EntryMeta | undefined> {
      const value = await index.get(keys.entry(pid, cid))
      return value == null ? undefined : JSON.parse(value) as EntryMeta
    },
    /**
     * Replaces every project view with what `entries` make (`floe repair`): the derived keys
     * and the heads' pins are cleared, then the entries are taken in anew, oldest clock first.
     * Peers' positions are forgotten (the next sync starts from the beginning, with a new epoch).
     */
    async rebuild (entries: Array<{ cid: CID, bytes: Uint8Array, clock: number }>): Promise<Received> {
      await inTurn(async () => {
        const doomed: string[] = []
        for (const prefix of keys.derived) {
          for await (const key of index.keys({ gte: prefix, lt: prefix + '\xff' })) doomed.push(key)
        }
        for await (const key of index.keys({ gte: 'pin!', lt: 'pin!\xff' })) if (isProjectPinKey(key)) doomed.push(key)
        for (let i = 0; i < doomed.length; i += 10_000) await index.batch(doomed.slice(i, i + 10_000).map(key => ({ type: 'del' as const, key })), { sync: true })
      })
      const sorted = [...entries].sort((a, b) => a.clock - b.clock || (a.cid.toString() < b.cid.toString() ? -1 : 1))
      return await receive(sorted)
    }
  }
}

export type ProjectLog = ReturnType<typeof projectLog>

/** An owner name from an OS user name: what `ProjectName` allows, else `me`. */
export function ownerName (user: string): string {
  const cleaned = user.replace(/[^A-Za-z0-9._-]/g, '').replace(/^[._-]+/, '').slice(0, 64)
  return ProjectName.safeParse(cleaned).success ? cleaned : 'me'
}

