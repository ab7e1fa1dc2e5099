import type { CID } from 'multiformats/cid'
import { openReceipt } from '../../protocol/jobs/open-receipt.js'
import { decodeReceipt, type Receipt } from '../../protocol/jobs/receipt.js'
import {
  decodeEntry, entryCid, ENTRY_SIGNING_DOMAIN, entrySigningPayload, JOB_NUMBER_RANGE, MEMBERSHIP_TYPES, OWNER_ONLY,
  type Entry, type EntryPayload
} from '../../protocol/projects/entry.js'
import { verifySignature } from '../p2p/verify-signature.js'
import { pinKey } from '../store/pins.js'
import { pinReasons } from '../store/pin-reasons.js'
import { EntryRefusedError, NotInvitedError } from './errors.js'
import { applyJobEntry, jobCreatedRow, type JobRow } from './job-rows.js'
import { keys, type EntryMeta, type LogState, type Membership, type Overlay, type ProjectMeta } from './log-store.js'

export interface Ingested {
  pid: string
  cid: CID
  entry: Entry
  /** false when the entry was held already (nothing written) */
  added: boolean
}

/** An entry decoded, its signature's check under way: what a batch prepares ahead (checkAhead). */
export interface CheckedEntry { entry: Entry, signed: Promise<boolean> }

function signatureOk (entry: Entry): Promise<boolean> {
  const { sig, ...body } = entry
  return verifySignature(entry.author, ENTRY_SIGNING_DOMAIN, entrySigningPayload(body), sig)
}

/**
 * Decodes an entry and starts checking its signature, so that a batch's signatures are
 * checked together (in the thread pool) while its entries are taken in one by one. Null for
 * bytes that do not decode: ingestEntry says why.
 */
export function checkAhead (bytes: Uint8Array): CheckedEntry | undefined {
  let entry: Entry
  try {
    entry = decodeEntry(bytes)
  } catch {
    return undefined
  }
  const signed = signatureOk(entry)
  signed.catch(() => {})
  return { entry, signed }
}

/**
 * Checks what a peer shows before this node pulls a project it does not hold: `genesis` must
 * be the project's genesis entry and `added` a `member.added` of it naming `self`, both signed
 * by the project's owner. Throws NotInvitedError saying what is wrong.
 */
export async function checkInvitation (pid: string, self: string, genesisBytes: Uint8Array, addedBytes: Uint8Array): Promise<void> {
  const refuse = (why: string): never => { throw new NotInvitedError(`project ${pid} refused: ${why}`) }
  let genesis: Entry
  let added: Entry
  try {
    genesis = decodeEntry(genesisBytes)
    added = decodeEntry(addedBytes)
  } catch (err: any) {
    return refuse(`its invitation does not decode: ${err?.message ?? err}`)
  }
  if (genesis.type !== 'project.created' || (await entryCid(genesisBytes)).toString() !== pid) refuse('the entry shown as its genesis is not that project\'s')
  if (added.type !== 'member.added' || added.project?.toString() !== pid || (added.payload as EntryPayload<'member.added'>).peer !== self) {
    refuse('nothing shows that this node was added to it (no member.added entry naming this node)')
  }
  if (added.author !== genesis.author) refuse(`this node was added by ${added.author}, not by the project's owner ${genesis.author}`)
  const [genesisSigned, addedSigned] = await Promise.all([signatureOk(genesis), signatureOk(added)])
  if (!genesisSigned || !addedSigned) refuse('a signature of its invitation does not verify')
}

/** Makes the epoch of a project this node starts to hold. */
export type NewEpoch = () => string

/**
 * The one way an entry enters the log, written by this node or received: it is checked —
 * form, project, links held, clock, author a member under the membership its links see,
 * owner-only types, signature, what its type claims (job numbers in the author's range, a
 * job's later entries by its author, receipts signed by their provider) — and only then are
 * its index writes added to `overlay`: the entry, its seq, the heads, membership, job rows.
 * A refused entry adds nothing. The caller commits the overlay (and stores the block). The
 * CID is computed from the bytes; one `claimed` for them (a CAR's) must match it.
 */
export async function ingestEntry (overlay: Overlay, claimed: CID | undefined, bytes: Uint8Array, newEpoch: NewEpoch, checked?: CheckedEntry): Promise<Ingested> {
  const entry = checked?.entry ?? decodeEntry(bytes)
  const cid = await entryCid(bytes)
  const cidText = cid.toString()
  if (claimed != null && claimed.toString() !== cidText) throw new EntryRefusedError(`entry ${claimed.toString()} refused: its bytes do not hash to that CID (entries are CIDv1 dag-cbor sha2-256)`)
  const genesis = entry.type === 'project.created'
  const pid = genesis ? cidText : (entry.project as CID).toString()
  if (await overlay.get(keys.entry(pid, cidText)) != null) return { pid, cid, entry, added: false }
  const refuse = (why: string): never => { throw new EntryRefusedError(`entry ${cidText} of project ${pid} refused: ${why}`) }

  let meta = await overlay.json<ProjectMeta>(keys.project(pid))
  let state = await overlay.json<LogState>(keys.state(pid)) ?? { seq: 0, mv: 0, jobs: 0 }
  let clock = 0
  let mv = 0
  if (genesis) {
    const p = entry.payload as EntryPayload<'project.created'>
    meta = { id: pid, name: `${p.owner}/${p.name}`, ownerPeer: entry.author, createdAt: new Date(entry.at).toISOString(), epoch: newEpoch() }
  } else {
    if (meta == null) refuse('its project\'s genesis entry is not held')
    for (const link of entry.prev) {
      const prev = await overlay.json<EntryMeta>(keys.entry(pid, link.toString()))
      if (prev == null) refuse(`it links to entry ${link.toString()}, which is not held`)
      clock = Math.max(clock, (prev as EntryMeta).clock + 1)
      mv = Math.max(mv, (prev as EntryMeta).mv)
    }
    if (entry.clock !== clock) refuse(`its clock is ${entry.clock}, but its links make it ${clock}`)
  }
  const project = meta as ProjectMeta
  const membership = genesis
    ? { members: { [entry.author]: 0 }, lastSlot: 0 }
    : await overlay.json<Membership>(keys.membership(pid, mv)) ?? refuse(`membership version ${mv} is not held`)
  if (!genesis && !Object.hasOwn(membership.members, entry.author)) refuse(`its author ${entry.author} is not a member`)
  if (!genesis && OWNER_ONLY.has(entry.type) && entry.author !== project.ownerPeer) refuse(`only the owner may write ${entry.type}`)
  if (!await (checked?.signed ?? signatureOk(entry))) refuse(`its signature is not its author's (${entry.author})`)

  // what the type claims
  let nextMembership: Membership | undefined
  if (MEMBERSHIP_TYPES.has(entry.type)) {
    if (genesis) nextMembership = membership
    else if (entry.type === 'member.added') {
      const p = entry.payload as EntryPayload<'member.added'>
      if (Object.hasOwn(membership.members, p.peer)) refuse(`${p.peer} is a member already`)
      if (p.slot !== membership.lastSlot + 1) refuse(`slot ${p.slot} given, ${membership.lastSlot + 1} expected`)
      nextMembership = { members: { ...membership.members, [p.peer]: p.slot }, lastSlot: p.slot }
    } else {
      const p = entry.payload as EntryPayload<'member.removed'>
      if (!Object.hasOwn(membership.members, p.peer)) refuse(`${p.peer} is not a member`)
      if (p.peer === project.ownerPeer) refuse('the owner cannot be removed')
      const { [p.peer]: _gone, ...rest } = membership.members
      nextMembership = { members: rest, lastSlot: membership.lastSlot }
    }
    mv = genesis ? 0 : mv + 1
    if (!genesis && mv <= state.mv && await overlay.get(keys.membership(pid, mv)) != null) refuse(`membership version ${mv} exists already (concurrent membership changes)`)
  }

  let row: JobRow | undefined
  if (entry.type === 'job.created') {
    const p = entry.payload as EntryPayload<'job.created'>
    const slot = membership.members[entry.author] as number
    if (p.number <= slot * JOB_NUMBER_RANGE || p.number > (slot + 1) * JOB_NUMBER_RANGE) refuse(`job number ${p.number} is outside its author's range (slot ${slot})`)
    if (await overlay.get(keys.job(pid, p.number)) != null) refuse(`job number ${p.number} is taken`)
    if (await overlay.get(keys.jobId(p.job)) != null) refuse(`job ${p.job} exists already`)
    let receipt: Receipt | null = null
    if (p.reused != null) {
      const earlier = decodeReceiptOrRefuse(p.reused.receipt.payload, refuse)
      receipt = await openReceipt(p.reused.receipt, { jobId: earlier.jobId, specCid: p.specCid, client: earlier.client }).catch((err: Error) => refuse(err.message))
    }
    row = jobCreatedRow(entry, project, receipt)
    state = { ...state, jobs: state.jobs + 1 }
    overlay.put(keys.jobId(p.job), `${pid}!${p.number}`)
    overlay.put(keys.spec(pid, p.specCid, p.number), '')
  } else if (entry.type.startsWith('job.')) {
    const job = (entry.payload as { job: string }).job
    const where = await overlay.get(keys.jobId(job))
    if (where == null || !where.startsWith(pid + '!')) refuse(`job ${job} is not in this project`)
    const current = await overlay.json<JobRow>(keys.job(pid, Number((where as string).slice(pid.length + 1)))) as JobRow
    if (current.author !== entry.author) refuse(`job ${current.ref} is ${current.author}'s, not ${entry.author}'s`)
    let receipt: Receipt | null = null
    if (entry.type === 'job.finished') {
      const p = entry.payload as EntryPayload<'job.finished'>
      receipt = await openReceipt(p.receipt, { jobId: job, specCid: current.specCid, client: entry.author }).catch((err: Error) => refuse(err.message))
    }
    row = applyJobEntry(current, entry, receipt)
  }

  // all checked: the writes
  const seq = state.seq + 1
  overlay.put(keys.entry(pid, cidText), { clock: entry.clock, mv, seq } satisfies EntryMeta)
  overlay.put(keys.seq(pid, seq), { cid: cidText, bytes: Buffer.from(bytes).toString('base64') })
  // the heads, pinned: gc keeps what they link, which is the whole log
  for (const link of entry.prev) {
    overlay.del(keys.head(pid, link.toString()))
    overlay.del(pinKey(link, projectPin(pid)))
  }
  overlay.put(keys.head(pid, cidText), String(entry.clock))
  overlay.put(pinKey(cid, projectPin(pid)), '')
  if (nextMembership != null) overlay.put(keys.membership(pid, mv), nextMembership)
  if (row != null) overlay.put(keys.job(pid, row.number), row)
  if (genesis) overlay.put(keys.project(pid), project)
  overlay.put(keys.state(pid), { seq, mv: Math.max(state.mv, mv), jobs: state.jobs } satisfies LogState)
  return { pid, cid, entry, added: true }
}

function decodeReceiptOrRefuse (payload: Uint8Array, refuse: (why: string) => never): Receipt {
  try {
    return decodeReceipt(payload)
  } catch (err: any) {
    return refuse(`its receipt does not decode: ${err?.message ?? err}`)
  }
}

/** Why gc keeps a project's heads (and so its whole log). */
export const projectPin = (pid: string): string => pinReasons.project(pid).text
