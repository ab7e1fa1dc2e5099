import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryBlockstore } from 'blockstore-core'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { projectLog, type ProjectLog } from '../../../../daemon/projects/project-log.js'
import { encodeEntry, entryCid, entrySigningPayload, ENTRY_SIGNING_DOMAIN, sortLinks, type EntryBody } from '../../../../protocol/projects/entry.js'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const step of cleanup.splice(0).reverse()) await step() })

async function node (): Promise<{ log: ProjectLog, key: PrivateKey, peer: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-tombstone-'))
  const index = new ClassicLevel<string, string>(dir)
  await index.open()
  cleanup.push(async () => { await index.close(); await rm(dir, { recursive: true, force: true }) })
  const privateKey = await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(privateKey).toString()
  return { log: projectLog({ self: peer, privateKey, owner: 'alice', index, blockstore: new MemoryBlockstore(), log: pino({ level: 'silent' }) }), key: privateKey, peer }
}

async function everything (log: ProjectLog, pid: string): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  const all = []
  for await (const item of log.entriesAfter(pid, 0)) all.push({ cid: CID.parse(item.cid), bytes: item.bytes })
  return all
}

describe('a job.deleted tombstone (floe delete)', () => {
  it('hides the job in every member\'s rows once merged, and only the job\'s author may write it', async () => {
    const owner = await node()
    const member = await node()
    const { project } = await owner.log.init('mnist')
    const pid = project.id
    await owner.log.write(pid, 'member.added', { peer: member.peer, slot: 1 })
    const head = project.heads[0] as string
    const job = 'cd'.repeat(16)
    await owner.log.write(pid, 'job.created', {
      job, number: 1, message: '', specCid: head, spec: { code: head, inputs: [], environment: 'busybox', command: ['true'], resources: { cpus: 1, memoryBytes: 1, gpus: 0 }, timeoutSeconds: 1, network: false }, inputs: [], deterministic: false, reused: null
    })
    expect(await member.log.receive(await everything(owner.log, pid))).toMatchObject({ added: 3, refused: [] })

    // a member cannot tombstone the owner's job
    const heads = (await member.log.heads(pid)).map(h => CID.parse(h.cid))
    const before = await owner.log.state(pid)
    const body: EntryBody = { v: 1, project: CID.parse(pid), prev: sortLinks(heads), clock: 3, author: member.peer, at: Date.now(), type: 'job.deleted', payload: { job } }
    const bytes = encodeEntry({ ...body, sig: await signRecord(member.key, ENTRY_SIGNING_DOMAIN, entrySigningPayload(body)) })
    const forged = await owner.log.receive([{ cid: await entryCid(bytes), bytes }])
    expect(forged.added).toBe(0)
    expect(forged.refused[0]?.reason).toMatch(new RegExp(`job \\S+/1 is ${owner.peer}'s, not ${member.peer}'s`))
    expect(await owner.log.state(pid)).toEqual(before)
    expect((await owner.log.jobRowById(job))?.deletedAt).toBeUndefined()

    // the owner's own tombstone reaches the member's rows
    await owner.log.write(pid, 'job.deleted', { job })
    expect((await owner.log.jobRowById(job))?.deletedAt).toEqual(expect.any(String))
    expect(await member.log.receive(await everything(owner.log, pid))).toMatchObject({ added: 1, refused: [] })
    const row = await member.log.jobRowById(job)
    expect(row).toMatchObject({ number: 1, state: 'queued', deletedAt: expect.any(String) })
  })
})
