import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nameStore } from '../../../../daemon/datasets/names/name-store.js'
import { resolveOwner } from '../../../../daemon/datasets/names/owners.js'
import { refResolver } from '../../../../daemon/datasets/names/resolve.js'
import { datasetKey } from '../../../../daemon/datasets/records.js'
import { parseNumberedRef, parseSharedRef } from '../../../../daemon/datasets/ref.js'
import { parseJobOutputRef, parseJobRef } from '../../../../daemon/jobs/refs.js'
import { signRecord } from '../../../../daemon/p2p/signing.js'
import { nameRecordBytes, signedNameRecord, verifyNameRecord, type NameRecord } from '../../../../protocol/datasets/name-record.js'
import { DATASET_NAME_SIGNING_DOMAIN } from '../../../../protocol/ids.js'

const CID_A = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const CID_B = 'bafkreidon73zkcrwdb5iafqtijxildoonbwnpv7dyd6ef3qdgads2jc4su'

async function owner () {
  const key = await generateKeyPair('Ed25519')
  return { key, peer: peerIdFromPrivateKey(key).toString() }
}

function record (peer: string, version: number, cid = CID_A, name = 'mnist'): NameRecord {
  return { owner: peer, name, version, cid, bytes: 10, files: 1, cidVersion: 1, chunker: 'fixed', publishedAt: '2026-12-01T00:00:00.000Z', message: '' }
}

async function signed (key: Awaited<ReturnType<typeof owner>>['key'], r: NameRecord) {
  const payload = nameRecordBytes(r)
  return signedNameRecord(payload, await signRecord(key, DATASET_NAME_SIGNING_DOMAIN, payload))
}

describe('shared dataset refs', () => {
  it('reads OWNER/NAME[:N] and FloydHub\'s OWNER/datasets/NAME[/N]', () => {
    expect(parseSharedRef('alice/mnist:3')).toEqual({ owner: 'alice', name: 'mnist', version: 3 })
    expect(parseSharedRef('alice/mnist')).toEqual({ owner: 'alice', name: 'mnist' })
    expect(parseSharedRef('alice/datasets/mnist/3')).toEqual({ owner: 'alice', name: 'mnist', version: 3 })
    expect(parseSharedRef('alice/datasets/mnist')).toEqual({ owner: 'alice', name: 'mnist' })
    expect(parseSharedRef('12D3KooWabc/mnist-data.v2:10')).toEqual({ owner: '12D3KooWabc', name: 'mnist-data.v2', version: 10 })
  })

  it('leaves local names, CIDs, FloydHub\'s NAME/N and job outputs to their own parsers', () => {
    for (const ref of ['mnist', 'mnist:3', CID_A, 'mnist-data/1', 'default/2/output', 'alice/mnist/2', 'alice/projects/mnist/2/output']) {
      expect(parseSharedRef(ref), ref).toBeUndefined()
    }
    expect(parseNumberedRef('mnist-data/1')).toEqual({ name: 'mnist-data', version: 1 })
    expect(parseNumberedRef('alice/mnist')).toBeUndefined()
  })

  it('refuses a malformed dataset name or version in a shared ref with one line', () => {
    expect(() => parseSharedRef('alice/.hidden:1')).toThrow('"alice/.hidden:1": ".hidden" is not a dataset name')
    expect(() => parseSharedRef('alice/mnist:0')).toThrow('a version is a number from 1')
  })

  it('reads FloydHub\'s OWNER/projects/PROJECT/N[/output] as floe\'s OWNER/PROJECT/N', () => {
    expect(parseJobRef('alice/projects/mnist/7')).toEqual({ project: 'alice/mnist', number: 7 })
    expect(parseJobOutputRef('alice/projects/mnist/7/output')).toBe('alice/projects/mnist/7')
    expect(parseJobRef('alice/mnist/7')).toEqual({ project: 'alice/mnist', number: 7 })
  })
})

describe('owners by name', () => {
  it('takes a peer id as it is, a known name to its one peer, and refuses unknown or ambiguous names', async () => {
    const a = await owner()
    const b = await owner()
    const known = async () => [{ name: 'alice', peer: a.peer }, { name: 'bob', peer: a.peer }, { name: 'bob', peer: b.peer }]
    expect(await resolveOwner(b.peer, known)).toBe(b.peer)
    expect(await resolveOwner('alice', known)).toBe(a.peer)
    await expect(resolveOwner('carol', known)).rejects.toThrow('no peer is known here as "carol": name the owner by peer id')
    await expect(resolveOwner('bob', known)).rejects.toThrow(`"bob" names 2 peers here (${a.peer}, ${b.peer})`)
  })
})

describe('name records', () => {
  it('verify when the owner signed them, and name which check failed otherwise', async () => {
    const a = await owner()
    const m = await owner()
    const good = await signed(a.key, record(a.peer, 2))
    expect(await verifyNameRecord(good, { owner: a.peer, name: 'mnist', version: 2 }, 'peer-x')).toMatchObject({ version: 2, cid: CID_A })
    // signed by another key, claiming a's name
    const forged = await signed(m.key, record(a.peer, 7))
    await expect(verifyNameRecord(forged, { owner: a.peer, name: 'mnist', version: 7 }, 'peer-x')).rejects.toThrow(`peer-x sent a record of ${a.peer}/mnist:7 that ${a.peer} did not sign`)
    // a genuine record, altered after signing
    const payload = JSON.parse(Buffer.from(good.payload, 'base64url').toString())
    const altered = { ...good, payload: Buffer.from(JSON.stringify({ ...payload, cid: CID_B })).toString('base64url') }
    await expect(verifyNameRecord(altered, { owner: a.peer, name: 'mnist' }, 'peer-x')).rejects.toThrow('did not sign')
    // a genuine record, but not the one asked about
    await expect(verifyNameRecord(good, { owner: a.peer, name: 'mnist', version: 1 }, 'peer-x')).rejects.toThrow('with version 2')
    await expect(verifyNameRecord(good, { owner: m.peer, name: 'mnist' }, 'peer-x')).rejects.toThrow(`answered for ${m.peer}/mnist with a record of ${a.peer}/mnist`)
    await expect(verifyNameRecord({ payload: 'bm90IGpzb24', signature: 'AA' }, { owner: a.peer, name: 'mnist' }, 'peer-x')).rejects.toThrow('malformed name record')
  })
})

describe('the name store and the ref resolver', () => {
  let dir: string
  let db: ClassicLevel<string, string>
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-names-'))
    db = new ClassicLevel(dir)
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps one CID per version for ever, lists newest first, and remembers the highest version signed', async () => {
    const a = await owner()
    const store = nameStore(db)
    const r1 = record(a.peer, 1)
    expect(await store.put({ record: r1, signed: await signed(a.key, r1) })).toBe('added')
    expect(await store.put({ record: r1, signed: await signed(a.key, r1) })).toBe('held')
    const r2 = record(a.peer, 2, CID_B)
    await store.put({ record: r2, signed: await signed(a.key, r2) })
    const other = record(a.peer, 1, CID_B)
    await expect(store.put({ record: other, signed: await signed(a.key, other) })).rejects.toThrow(`${a.peer}/mnist:1 is already known here as ${CID_A}`)
    expect((await store.list(a.peer, 'mnist')).map(s => s.record.version)).toEqual([2, 1])
    await store.noteSigned('mnist', 5)
    await store.noteSigned('mnist', 3)
    expect(await store.highestSigned('mnist')).toBe(5)
  })

  it('reads NAME/N as the dataset version or the job, whichever exists, and refuses when both do', async () => {
    const dataset = { name: 'mnist', version: 1, cid: CID_A, bytes: 1, files: 1, createdAt: '', message: '', cidVersion: 1, chunker: 'fixed' }
    await db.put(datasetKey('mnist', 1), JSON.stringify(dataset))
    const jobs: Record<string, CID | null> = { 'mnist/1': CID.parse(CID_B), 'exp/2': CID.parse(CID_B), 'exp/3': null }
    const resolver = refResolver({
      index: db,
      names: { lookup: async () => [] },
      knownOwners: async () => [],
      jobOutput: async ref => jobs[ref]
    })
    await expect(resolver.resolve('mnist/1')).rejects.toThrow('"mnist/1" names both dataset mnist version 1 and job mnist/1: write mnist:1 for the dataset, or mnist/1/output for the job\'s output')
    delete jobs['mnist/1']
    expect((await resolver.resolve('mnist/1')).cid.toString()).toBe(CID_A)
    expect((await resolver.resolve('exp/2')).cid.toString()).toBe(CID_B)
    await expect(resolver.resolve('exp/3')).rejects.toThrow('job exp/3 has no output yet')
    await expect(resolver.resolve('nosuch/4')).rejects.toThrow('"nosuch/4" is neither version 4 of a dataset "nosuch" here nor a job')
    expect((await resolver.resolve('mnist:1')).cid.toString()).toBe(CID_A)
  })
})
