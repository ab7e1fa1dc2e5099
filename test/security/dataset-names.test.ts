import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRecord } from '../../daemon/p2p/signing.js'
import {
  DATASET_NAMES_PROTOCOL, MAX_NAME_MESSAGE_BYTES, nameRecordBytes, NameRequest, signedNameRecord, type NameRecord, type NameResponse
} from '../../protocol/datasets/name-record.js'
import { DATASET_NAME_SIGNING_DOMAIN } from '../../protocol/ids.js'
import { addr, floeAt, floeFails, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { testPeerNode } from '../helpers/test-peer.js'

// Dataset names from a hostile peer: B asks about an owner that is offline, and a peer it is
// connected to answers with forged, mismatched or oversized records. Each is refused with one
// line, nothing it sent is kept, and B still resolves A's genuine names afterwards.

const r = resources()
let a: RunningDaemon
let b: RunningDaemon
let work: string
let v1: any
let v2: any

const json = floeAt
const fails = floeFails

beforeAll(async () => {
  ;[a, b] = await Promise.all([r.start(), r.start()])
  work = r.folder(await tempHome('floe-names-'))
  await mkdir(join(work, 'mnist'))
  await writeFile(join(work, 'mnist', 'train.csv'), 'version one\n')
  v1 = await json(a, 'data', 'upload', join(work, 'mnist'), '--public')
  await writeFile(join(work, 'mnist', 'train.csv'), 'version two\n')
  v2 = await json(a, 'data', 'upload', join(work, 'mnist'), '--public', '-m', 'cleaned')
  await json(b, 'connect', await addr(a))
}, 60_000)

afterAll(async () => { await r.cleanup() })

describe('a hostile peer answering dataset-name requests', () => {
  let hostile: Libp2p
  let hostileKey: PrivateKey
  let absentKey: PrivateKey
  let absent: string
  let answer: (request: NameRequest) => Uint8Array

  const record = (version: number, cid: string): NameRecord => ({ owner: absent, name: 'mnist', version, cid, bytes: 12, files: 1, cidVersion: 1, chunker: 'fixed', publishedAt: new Date().toISOString(), message: '' })
  const signedBy = async (key: PrivateKey, rec: NameRecord) => {
    const payload = nameRecordBytes(rec)
    return signedNameRecord(payload, await signRecord(key, DATASET_NAME_SIGNING_DOMAIN, payload))
  }
  const reply = (response: NameResponse) => new TextEncoder().encode(JSON.stringify(response))

  beforeAll(async () => {
    // the owner asked about is a key that never comes online: B must ask its connected peers
    absentKey = await generateKeyPair('Ed25519')
    absent = peerIdFromPrivateKey(absentKey).toString()
    ;({ node: hostile, privateKey: hostileKey } = await testPeerNode())
    await hostile.handle(DATASET_NAMES_PROTOCOL, async stream => {
      const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 })
      const request = NameRequest.parse(JSON.parse(new TextDecoder().decode((await lp.read()).subarray())))
      await lp.write(answer(request))
      await stream.close()
    })
    await json(b, 'connect', hostile.getMultiaddrs()[0]?.toString() ?? '')
  })
  afterAll(async () => { await hostile?.stop() })

  const nothingKept = async () => {
    answer = () => reply({ records: [] })
    expect(await fails(b, 'data', 'ls', `${absent}/mnist`)).toMatch(new RegExp(`^floe data ls: could not resolve ${absent}/mnist: its owner could not be reached \\([\\s\\S]*\\) and no connected peer holds the name; connect to the owner`))
  }

  it('a record signed by its own key, not the owner\'s: refused, nothing kept', async () => {
    answer = () => reply({ records: [] })
    const forged = await signedBy(hostileKey, record(1, v1.cid))
    answer = () => reply({ records: [forged] })
    expect(await fails(b, 'data', 'ls', `${absent}/mnist`)).toBe(`floe data ls: ${hostile.peerId.toString()} sent a record of ${absent}/mnist:1 that ${absent} did not sign (a forged or altered record); nothing was stored`)
    await nothingKept()
  })

  it('a version the owner did not sign, or not the version asked: refused, nothing kept', async () => {
    const genuine1 = await signedBy(absentKey, record(1, v1.cid))
    const forged7 = await signedBy(hostileKey, record(7, v2.cid))
    answer = request => reply({ records: [request.version === 7 ? forged7 : genuine1] })
    expect(await fails(b, 'data', 'get', `${absent}/mnist:7`, join(work, 'h7'))).toBe(`floe data get: ${hostile.peerId.toString()} sent a record of ${absent}/mnist:7 that ${absent} did not sign (a forged or altered record); nothing was stored`)
    expect(await fails(b, 'data', 'get', `${absent}/mnist:2`, join(work, 'h2'))).toBe(`floe data get: ${hostile.peerId.toString()} answered for ${absent}/mnist:2 with version 1`)
    await nothingKept()
  })

  it('a 10 MB answer: refused by its length before it is read, nothing kept, and B answers on', async () => {
    answer = () => reply({ records: [], error: 'x'.repeat(10 * 1024 * 1024) })
    expect(await fails(b, 'data', 'ls', `${absent}/mnist`)).toBe(`floe data ls: ${hostile.peerId.toString()} sent a dataset-name answer over the ${MAX_NAME_MESSAGE_BYTES}-byte limit; nothing was stored`)
    await nothingKept()
    expect((await json(b, 'data', 'ls', `${a.endpoint.peerId}/mnist`)).map((d: any) => d.version)).toEqual([2, 1])
  })
})
