import { ClassicLevel } from 'classic-level'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { DAG_MAX_REQUEST_BYTES_PER_PEER, DAG_MAX_TRANSFERS_PER_PEER, DAG_MAX_REQUEST_BYTES } from '../../../../protocol/transfer/dag.js'
import { entitlement, grantTable } from '../../../../daemon/transfer/entitlement.js'
import { transferLimits } from '../../../../daemon/transfer/transfer-limits.js'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

async function index (): Promise<ClassicLevel<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-grants-'))
  dirs.push(dir)
  const db = new ClassicLevel<string, string>(dir)
  await db.open()
  return db
}

const cid = async (text: string): Promise<CID> => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))

describe('entitlement', () => {
  it('lets a root go to its grantees only: public, the peer named, a project\'s current members; revoking a reason leaves the others', async () => {
    const db = await index()
    const grants = grantTable(db)
    const members = new Set(['member'])
    const access = entitlement({ grants, isMember: async (_pid, peer) => members.has(peer) })
    const [open, code, shared] = await Promise.all([cid('open'), cid('code'), cid('shared')])
    await grants.grant(open, { public: true }, 'dataset:open:1')
    await grants.grant(code, { peer: 'provider' }, 'job:1')
    await grants.grant(code, { peer: 'provider' }, 'job:2')
    await grants.grant(shared, { project: 'p' }, 'project:p')

    await expect(access.check(open, 'stranger')).resolves.toBeUndefined()
    await expect(access.check(code, 'provider')).resolves.toBeUndefined()
    await expect(access.check(code, 'stranger')).rejects.toMatchObject({ name: 'NotEntitledError', message: expect.stringContaining(`stranger is not entitled to ${code.toString()}`) })
    await expect(access.check(shared, 'member')).resolves.toBeUndefined()
    await expect(access.check(shared, 'provider')).rejects.toMatchObject({ name: 'NotEntitledError' })
    // unknown roots are refused alike: nothing tells a stranger what is held
    await expect(access.check(await cid('unknown'), 'stranger')).rejects.toMatchObject({ name: 'NotEntitledError' })

    await grants.revoke('job:1')
    await expect(access.check(code, 'provider')).resolves.toBeUndefined()
    await grants.revoke('job:2')
    await expect(access.check(code, 'provider')).rejects.toMatchObject({ name: 'NotEntitledError' })
    members.delete('member')
    await expect(access.check(shared, 'member')).rejects.toMatchObject({ name: 'NotEntitledError' })
    await db.close()
  })

  it('asks the other sources when no grant names the peer', async () => {
    const db = await index()
    const output = await cid('output')
    const access = entitlement({ grants: grantTable(db), isMember: async () => false, sources: [(root, peer) => peer === 'client' && root.equals(output)] })
    await expect(access.check(output, 'client')).resolves.toBeUndefined()
    await expect(access.check(output, 'other')).rejects.toMatchObject({ name: 'NotEntitledError' })
    await db.close()
  })
})

describe('transfer limits', () => {
  it('caps transfers per peer across its connections, request bytes per peer, and transfers in all', () => {
    const limits = transferLimits({ total: 6 })
    // each has read a small request (until then it holds a full request's bytes)
    const slots = Array.from({ length: DAG_MAX_TRANSFERS_PER_PEER }, () => {
      const slot = limits.admit('a')
      slot.settle(100)
      return slot
    })
    expect(() => limits.admit('a')).toThrow(expect.objectContaining({ name: 'DagBusyError' }))
    for (const slot of slots) slot.release()
    slots[0]?.release() // idempotent
    expect(limits.active('a')).toBe(0)

    // request bytes: reserved at admission, so two transfers cannot spend the same bytes
    const first = limits.admit('a')
    const second = limits.admit('a')
    expect(first.maxRequestBytes).toBe(DAG_MAX_REQUEST_BYTES)
    expect(second.maxRequestBytes).toBe(DAG_MAX_REQUEST_BYTES_PER_PEER - DAG_MAX_REQUEST_BYTES)
    expect(() => limits.admit('a')).toThrow(expect.objectContaining({ name: 'DagBusyError', message: expect.stringContaining('request bytes') }))
    // a small request gives back what it did not use
    second.settle(100)
    const third = limits.admit('a')
    expect(third.maxRequestBytes).toBe(DAG_MAX_REQUEST_BYTES_PER_PEER - DAG_MAX_REQUEST_BYTES - 100)

    // all peers together
    limits.admit('b')
    limits.admit('c')
    limits.admit('d')
    expect(() => limits.admit('e')).toThrow(expect.objectContaining({ name: 'DagBusyError', message: expect.stringContaining('transfers') }))
    first.release()
    expect(() => limits.admit('e')).not.toThrow()
  })
})
