import * as dagCbor from '@ipld/dag-cbor'
import { base32 } from 'multiformats/bases/base32'
import { sha256 } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import { Bytes } from '../jobs/spec.js'
import { PROJECT_LOG_PROTOCOL, PROJECT_TOPIC_DOMAIN, PROJECT_TOPIC_PREFIX } from '../ids.js'

/**
 * `/floe/project-log/1.0.0`: a member pulls the entries of a project it lacks from another
 * member. Every node numbers the entries it holds in the order it took them in (its `seq`:
 * an entry always after the entries it links), so "what I lack from you" is "your entries
 * after the last seq of yours I took in" — one request, one ordered stream, no walking.
 *
 * Each stream carries one length-prefixed dag-cbor request and its answer:
 * - `{ type: 'list' }`: which projects do you hold that I am a member of? → `{ type: 'projects',
 *   projects: [{ id, heads }] }`. Sent both ways when two peers connect.
 * - `{ type: 'announce', project, heads }`: I have new entries → `{ type: 'ok' }`, and the
 *   server pulls from the announcer when it lacks a head (a member not on the topic yet).
 * - `{ type: 'pull', project, after, epoch }`: `epoch` names the numbering `after` belongs to
 *   (the server's numbering changes when its index is rebuilt, and then the puller starts
 *   again from 0). The server answers with one page — at most SYNC_PAGE_ENTRIES entries or
 *   SYNC_PAGE_BYTES — as frames:
 * - `{ type: 'entries', entries: [bytes…] }`: entries in its seq order, batches of at most
 *   SYNC_BATCH_BYTES;
 * - `{ type: 'end', epoch, seq, heads, more }`: its numbering, the seq of the last entry
 *   sent, its heads, and whether entries remain: the puller takes the page in, keeps its
 *   place, and asks for the next on a new stream. A page bounds what a puller holds and
 *   is the backpressure: the server sends no more than the puller asked for.
 * - `{ type: 'invite', project }`: show me that I was added to this project (asked before the
 *   first pull of a project the asker does not hold) → `{ type: 'invitation', genesis, added }`:
 *   the project's genesis entry and the owner's first `member.added` naming the asker. The
 *   asker pulls only when both are the owner's, signed, and name it: a peer cannot push a
 *   project onto a node that nobody added to it.
 * - `{ type: 'error', name, message }`: refused (not a member, unknown project).
 * The puller checks every entry (signature, author, links, clock) before it takes it in.
 * Gossip on the project's topic carries `{ heads }` after each append, so members online
 * learn of it at once and pull from the author. Topic names are seen by every peer in the
 * gossip mesh, so a topic does not name the project: it is PROJECT_TOPIC_PREFIX + the
 * sha2-256 of PROJECT_TOPIC_DOMAIN and the genesis entry's bytes (see projectTopic). The
 * project id is the hash of those same bytes, so knowing the id (it is in job refs, CLI
 * output, a shared CID) tells nothing of the topic; only a peer that holds the genesis entry
 * (a member: its invitation carries it) can derive it. The genesis is signed by the owner's
 * key, so its bytes cannot be guessed from the owner and name. The message names no project
 * either: members know it from the topic.
 */
export { PROJECT_LOG_PROTOCOL, PROJECT_TOPIC_DOMAIN, PROJECT_TOPIC_PREFIX }
export const SYNC_MAX_INBOUND_STREAMS = 8
export const SYNC_MAX_OUTBOUND_STREAMS = 8
export const SYNC_OPEN_TIMEOUT_MS = 10_000
export const SYNC_IDLE_TIMEOUT_MS = 30_000
export const SYNC_BATCH_BYTES = 256 * 1024
/** One pull's answer at most: entries, and bytes (it may end one entry past the bytes). */
export const SYNC_PAGE_ENTRIES = 4_000
export const SYNC_PAGE_BYTES = 1024 * 1024
/** a batch, or a list of up to 4096 projects with their heads; also what a puller may hold unread: a whole page fits */
export const MAX_SYNC_FRAME_BYTES = 2 * 1024 * 1024
export const MAX_SYNC_REQUEST_BYTES = 64 * 1024
/** Heads a gossip message or an end frame may name. */
export const MAX_ANNOUNCED_HEADS = 256

const cidText = z.string().min(1).max(128)

const Heads = z.array(cidText).min(1).max(MAX_ANNOUNCED_HEADS)

export const SyncRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('list') }).strict(),
  z.object({ type: z.literal('announce'), project: cidText, heads: Heads }).strict(),
  z.object({ type: z.literal('pull'), project: cidText, after: z.number().int().nonnegative(), epoch: z.string().max(64).nullable() }).strict(),
  z.object({ type: z.literal('invite'), project: cidText }).strict()
])
export type SyncRequest = z.infer<typeof SyncRequest>

export const SyncFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('entries'), entries: z.array(Bytes).min(1) }).strict(),
  z.object({ type: z.literal('end'), epoch: z.string().max(64), seq: z.number().int().nonnegative(), heads: z.array(cidText).max(MAX_ANNOUNCED_HEADS), more: z.boolean() }).strict(),
  z.object({ type: z.literal('projects'), projects: z.array(z.object({ id: cidText, heads: Heads }).strict()).max(4096) }).strict(),
  z.object({ type: z.literal('ok') }).strict(),
  z.object({ type: z.literal('invitation'), genesis: Bytes, added: Bytes }).strict(),
  z.object({ type: z.literal('error'), name: z.string().max(128), message: z.string().max(1024) }).strict()
])
export type SyncFrame = z.infer<typeof SyncFrame>

export const HeadsAnnouncement = z.object({
  heads: Heads
}).strict()
export type HeadsAnnouncement = z.infer<typeof HeadsAnnouncement>

/** A peer sent something the protocol does not allow. */
export class SyncProtocolError extends Error {
  override name = 'SyncProtocolError'
}

function decodeWith<T> (schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err: any) {
    throw new SyncProtocolError(`${what} is not dag-cbor: ${err?.message ?? err}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new SyncProtocolError(`bad ${what}: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return parsed.data
}

export const encodeSyncMessage = (message: SyncRequest | SyncFrame | HeadsAnnouncement): Uint8Array => dagCbor.encode(message)
export const decodeSyncRequest = (bytes: Uint8Array): SyncRequest => decodeWith(SyncRequest, bytes, 'sync request')
export const decodeSyncFrame = (bytes: Uint8Array): SyncFrame => decodeWith(SyncFrame, bytes, 'sync frame')
export const decodeHeadsAnnouncement = (bytes: Uint8Array): HeadsAnnouncement => decodeWith(HeadsAnnouncement, bytes, 'heads announcement')

/** A project's gossip topic, from its genesis entry's bytes (see the module's comment). */
export async function projectTopic (genesisBytes: Uint8Array): Promise<string> {
  const domain = new TextEncoder().encode(PROJECT_TOPIC_DOMAIN)
  const input = new Uint8Array(domain.byteLength + genesisBytes.byteLength)
  input.set(domain)
  input.set(genesisBytes, domain.byteLength)
  return PROJECT_TOPIC_PREFIX + base32.baseEncode((await sha256.digest(input)).digest)
}
