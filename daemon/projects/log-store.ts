import type { ClassicLevel } from 'classic-level'

export type Index = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'del' | 'batch' | 'keys' | 'values' | 'iterator'>

/** What this node keeps of a project besides its entries. */
export interface ProjectMeta {
  id: string
  /** `owner/name` */
  name: string
  ownerPeer: string
  createdAt: string
  /** names this node's numbering of the project's entries (new after a rebuild) */
  epoch: string
}

/** Per entry: its clock, the membership version it was written under, and its local seq. */
export interface EntryMeta { clock: number, mv: number, seq: number }

/** Who may write after membership event `mv`: peer → job-number slot; and the last slot given. */
export interface Membership { members: Record<string, number>, lastSlot: number }

/** Running totals of a project's log on this node. */
export interface LogState { seq: number, mv: number, jobs: number }

const pad = (n: number): string => String(n).padStart(12, '0')

/**
 * The index keys of projects (level). Entries' blocks are in the block store too; the `seq`
 * key holds each entry's bytes as well, so serving a sync reads one ordered range. Everything
 * but `peer` is derived from the entries and rebuilt by `floe repair`.
 */
export const keys = {
  project: (pid: string) => `project!${pid}`,
  projectPrefix: 'project!',
  entry: (pid: string, cid: string) => `pe!${pid}!${cid}`,
  seq: (pid: string, seq: number) => `ps!${pid}!${pad(seq)}`,
  seqPrefix: (pid: string) => `ps!${pid}!`,
  head: (pid: string, cid: string) => `ph!${pid}!${cid}`,
  headPrefix: (pid: string) => `ph!${pid}!`,
  membership: (pid: string, mv: number) => `pm!${pid}!${pad(mv)}`,
  state: (pid: string) => `pst!${pid}`,
  job: (pid: string, number: number) => `pj!${pid}!${pad(number)}`,
  jobPrefix: (pid: string) => `pj!${pid}!`,
  jobId: (jobId: string) => `pjid!${jobId}`,
  spec: (pid: string, specCid: string, number: number) => `psp!${pid}!${specCid}!${pad(number)}`,
  specPrefix: (pid: string, specCid: string) => `psp!${pid}!${specCid}!`,
  peer: (pid: string, peer: string) => `ppeer!${pid}!${peer}`,
  /** every prefix `floe repair` clears and rebuilds */
  derived: ['project!', 'pe!', 'ps!', 'ph!', 'pm!', 'pst!', 'pj!', 'pjid!', 'psp!', 'ppeer!']
}

/**
 * Index writes gathered for one atomic batch, readable before they are written (an entry
 * checked in a batch sees the ones before it). Reads are kept for the batch's life: writes
 * take turns (the log's queue), so nothing else changes the index meanwhile.
 */
export class Overlay {
  readonly #index: Index
  readonly #pending = new Map<string, string | null>()
  /** what was read from the index (a batch reads the same project, state and membership keys for each entry) */
  readonly #read = new Map<string, string | undefined>()

  constructor (index: Index) {
    this.#index = index
  }

  async get (key: string): Promise<string | undefined> {
    if (this.#pending.has(key)) return this.#pending.get(key) ?? undefined
    if (this.#read.has(key)) return this.#read.get(key)
    const value = await this.#index.get(key) ?? undefined
    this.#read.set(key, value)
    return value
  }

  async json<T> (key: string): Promise<T | undefined> {
    const value = await this.get(key)
    return value == null ? undefined : JSON.parse(value) as T
  }

  put (key: string, value: string | object): void {
    this.#pending.set(key, typeof value === 'string' ? value : JSON.stringify(value))
  }

  del (key: string): void {
    this.#pending.set(key, null)
  }

  /** Writes everything gathered in one batch (`sync`: durable before it resolves). */
  async commit (options: { sync: boolean }): Promise<void> {
    if (this.#pending.size === 0) return
    const ops = [...this.#pending].map(([key, value]) => value == null ? { type: 'del' as const, key } : { type: 'put' as const, key, value })
    this.#pending.clear()
    this.#read.clear()
    await this.#index.batch(ops, { sync: options.sync })
  }
}
