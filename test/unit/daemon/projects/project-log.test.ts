import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryBlockstore } from 'blockstore-core'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { checkInvitation } from '../../../../daemon/projects/ingest.js'
import { projectLog, type ProjectLog } from '../../../../daemon/projects/project-log.js'
import {
  encodeEntry, entryCid, entrySigningPayload, ENTRY_SIGNING_DOMAIN, JOB_NUMBER_RANGE, MAX_PREV, sortLinks,
  type Entry, type EntryBody, type EntryType
} from '../../../../protocol/projects/entry.js'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const step of cleanup.splice(0).reverse()) await step() })

async function node (key?: PrivateKey): Promise<{ log: ProjectLog, key: PrivateKey, peer: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-projects-'))
  const index = new ClassicLevel<string, string>(dir)
  await index.open()
  cleanup.push(async () => { await index.close(); await rm(dir, { recursive: true, force: true }) })
  const privateKey = key ?? await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(privateKey).toString()
  return { log: projectLog({ self: peer, privateKey, owner: 'alice', index, blockstore: new MemoryBlockstore(), log: pino({ level: 'silent' }) }), key: privateKey, peer }
}

/** An entry as another peer would send it, with whatever fields a test wants wrong. */
async function entry (key: PrivateKey, pid: string, prev: string[], clock: number, type: EntryType, payload: Record<string, unknown>): Promise<{ cid: CID, bytes: Uint8Array }> {
  const body: EntryBody = { v: 1, project: CID.parse(pid), prev: sortLinks(prev.map(p => CID.parse(p))), clock, author: peerIdFromPrivateKey(key).toString(), at: Date.now(), type, payload }
  const bytes = encodeEntry({ ...body, sig: await signRecord(key, ENTRY_SIGNING_DOMAIN, entrySigningPayload(body)) })
  return { cid: await entryCid(bytes), bytes }
}

/** Every entry a log holds, in its order: what a peer pulling it receives. */
async function everything (log: ProjectLog, pid: string): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  const all = []
  for await (const item of log.entriesAfter(pid, 0)) all.push({ cid: CID.parse(item.cid), bytes: item.bytes })
  return all
}

describe('the project log', () => {
  it('checks links, clocks, authors and job numbers of received entries; refusals leave it as it was', async () => {
    const owner = await node()
    const member = await node()
    const { project } = await owner.log.init('mnist')
    const pid = project.id
    await owner.log.write(pid, 'member.added', { peer: member.peer, slot: 1 })
    const head = project.heads[0] as string
    const [genesisHead] = (await owner.log.heads(pid)).map(h => h.cid)
    expect(await member.log.receive(await everything(owner.log, pid))).toMatchObject({ added: 2, refused: [] })

    const stranger = await generateKeyPair('Ed25519')
    const cases: Array<[Promise<{ cid: CID, bytes: Uint8Array }>, RegExp]> = [
      [entry(member.key, pid, [genesisHead as string], 5, 'note', { text: 'skipping ahead' }), /its clock is 5, but its links make it 2/],
      [entry(member.key, pid, ['bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'], 1, 'note', { text: 'x' }), /links to entry \S+, which is not held/],
      [entry(stranger, pid, [genesisHead as string], 2, 'note', { text: 'hello' }), /its author \S+ is not a member/],
      [entry(member.key, pid, [genesisHead as string], 2, 'member.added', { peer: member.peer, slot: 2 }), /only the owner may write member.added/],
      [entry(member.key, pid, [genesisHead as string], 2, 'job.created', {
        job: 'ab'.repeat(16), number: 3, message: '', specCid: head, spec: { code: head, inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1, gpus: 0 }, timeoutSeconds: 1, network: false }, inputs: [], deterministic: false, reused: null
      }), /job number 3 is outside its author's range \(slot 1\)/],
      [entry(member.key, pid, [genesisHead as string], 2, 'job.finished', { job: 'ef'.repeat(16), receipt: { payload: new Uint8Array(1), signature: new Uint8Array(1) }, metrics: {}, logLines: 0 }), /job e+f+\S* is not in this project/]
    ]
    for (const [made, reason] of cases) {
      const result = await member.log.receive([await made])
      expect(result.added).toBe(0)
      expect(result.refused[0]?.reason).toMatch(reason)
    }
    expect(await member.log.state(pid)).toMatchObject({ seq: 2 })
    expect((await member.log.heads(pid)).map(h => h.cid)).toEqual([genesisHead])

    // within its range the member numbers its own jobs
    expect(await member.log.nextJobNumber(pid)).toBe(JOB_NUMBER_RANGE + 1)
    expect(await owner.log.nextJobNumber(pid)).toBe(1)
  })

  it('survives a flood of concurrent heads: each append merges at most MAX_PREV, and the heads collapse', async () => {
    const owner = await node()
    const member = await node()
    const { project } = await owner.log.init('flood')
    const pid = project.id
    await owner.log.write(pid, 'member.added', { peer: member.peer, slot: 1 })
    const base = (await owner.log.heads(pid))[0] as { cid: string, clock: number }
    // a member writes 100 entries on the same parent: 100 concurrent heads
    const flood = await Promise.all(Array.from({ length: 100 }, async (_, i) => await entry(member.key, pid, [base.cid], base.clock + 1, 'note', { text: `flood ${i}` })))
    expect(await owner.log.receive(flood)).toMatchObject({ added: 100, refused: [] })
    expect(await owner.log.heads(pid)).toHaveLength(100)
    const first = await owner.log.write(pid, 'note', { text: 'merge' })
    expect(first.entry.prev).toHaveLength(MAX_PREV)
    for (let i = 0; i < 3; i++) await owner.log.write(pid, 'note', { text: `merge ${i}` })
    expect(await owner.log.heads(pid)).toHaveLength(1)

    // another replica taking the same entries in another order ends with the same heads
    const other = await node()
    const all = await everything(owner.log, pid)
    const reordered = [...all.slice(0, 2), ...all.slice(2, 102).reverse(), ...all.slice(102)]
    expect(await other.log.receive(reordered)).toMatchObject({ added: all.length, refused: [] })
    expect((await other.log.heads(pid)).map(h => h.cid)).toEqual((await owner.log.heads(pid)).map(h => h.cid))
  })

  it('writes appends that arrive together as one group that chains as if written one by one', async () => {
    const owner = await node()
    const { project } = await owner.log.init('burst')
    const pid = project.id
    const appended = await Promise.all(Array.from({ length: 50 }, async (_, i) => await owner.log.write(pid, 'note', { text: `note ${i}` })))
    expect(new Set(appended.map(a => a.cid.toString())).size).toBe(50)
    // one chain: clocks 1..50, each entry linking the one before, one head at the end
    expect(appended.map(a => a.entry.clock).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    for (const a of appended.filter(a => a.entry.clock > 1)) expect(a.entry.prev).toHaveLength(1)
    expect(await owner.log.heads(pid)).toEqual([{ cid: appended.find(a => a.entry.clock === 50)?.cid.toString(), clock: 50 }])
    // a replica takes them all
    const other = await node()
    expect(await other.log.receive(await everything(owner.log, pid))).toMatchObject({ added: 51, refused: [] })
  })

  it('shows a member its invitation (genesis and member.added), which checks out only for that member and untampered', async () => {
    const owner = await node()
    const member = await node()
    const stranger = await node()
    const { project } = await owner.log.init('mnist')
    const pid = project.id
    await owner.log.write(pid, 'note', { text: 'before' })
    await owner.log.write(pid, 'member.added', { peer: member.peer, slot: 1 })
    await owner.log.write(pid, 'note', { text: 'after' })
    expect(await owner.log.invitation(pid, stranger.peer)).toBeUndefined()
    const invitation = await owner.log.invitation(pid, member.peer)
    if (invitation == null) throw new Error('no invitation for the member')
    await checkInvitation(pid, member.peer, invitation.genesis, invitation.added)

    const other = await owner.log.init('other')
    const added = dagCbor.decode<Entry>(invitation.added)
    added.sig[0] = (added.sig[0] as number) ^ 1
    const forged = dagCbor.encode(added)
    const cases: Array<[() => Promise<void>, RegExp]> = [
      [async () => { await checkInvitation(pid, stranger.peer, invitation.genesis, invitation.added) }, /nothing shows that this node was added to it/],
      [async () => { await checkInvitation(other.project.id, member.peer, invitation.genesis, invitation.added) }, /the entry shown as its genesis is not that project's/],
      [async () => { await checkInvitation(pid, member.peer, invitation.genesis, forged) }, /a signature of its invitation does not verify/],
      [async () => { await checkInvitation(pid, member.peer, invitation.genesis, invitation.genesis) }, /nothing shows that this node was added/],
      [async () => { await checkInvitation(pid, member.peer, invitation.genesis, Uint8Array.of(1, 2, 3)) }, /its invitation does not decode/]
    ]
    for (const [check, reason] of cases) await expect(check()).rejects.toThrow(reason)
  })
})
