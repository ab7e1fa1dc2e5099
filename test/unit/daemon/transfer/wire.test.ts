import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import {
  decodeDagFrame, decodeDagRequest, encodeDagFrame, encodeDagRequest, lengthPrefixed, DAG_MAX_BLOCK_BYTES,
  DAG_MAX_FRAME_BYTES, DAG_MAX_HAVE_CIDS, DAG_MAX_REQUEST_BYTES
} from '../../../../protocol/transfer/dag.js'

async function rawCid (n: number): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new Uint8Array([n & 0xff, n >> 8])))
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) { out.set(part, offset); offset += part.byteLength }
  return out
}

describe('DAG transfer request', () => {
  it('round-trips root and have list', async () => {
    const root = await rawCid(0)
    const have = await Promise.all([1, 2, 3].map(rawCid))
    const decoded = decodeDagRequest(encodeDagRequest({ root, have }))
    expect(decoded.root.equals(root)).toBe(true)
    expect(decoded.have.map(String)).toEqual(have.map(String))
  })

  it('rejects garbage, wrong shapes and extra fields', async () => {
    const root = await rawCid(0)
    expect(() => decodeDagRequest(new Uint8Array([0xff, 0x00]))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
    expect(() => decodeDagRequest(dagCbor.encode({ root: root.toString(), have: [] }))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
    expect(() => decodeDagRequest(dagCbor.encode({ root, have: ['x'] }))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
    expect(() => decodeDagRequest(dagCbor.encode({ root, have: [], more: 1 }))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
  })

  it('refuses more held CIDs than allowed, and oversized messages', async () => {
    const cid = await rawCid(1)
    const have = new Array<CID>(DAG_MAX_HAVE_CIDS + 1).fill(cid)
    expect(() => encodeDagRequest({ root: cid, have })).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
    expect(() => decodeDagRequest(dagCbor.encode({ root: cid, have }))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError' }))
    expect(() => decodeDagRequest(new Uint8Array(DAG_MAX_REQUEST_BYTES + 1))).toThrow(expect.objectContaining({ name: 'InvalidDagRequestError', message: expect.stringMatching(/bytes/) }))
  })
})

describe('DAG transfer frames', () => {
  it('round-trips block, done and error frames', async () => {
    const bytes = new TextEncoder().encode('block bytes')
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const block = decodeDagFrame(concat(encodeDagFrame({ type: 'block', cid, bytes })))
    expect(block.type).toBe('block')
    if (block.type !== 'block') return
    expect(block.cid.equals(cid)).toBe(true)
    expect(block.bytes).toEqual(bytes)
    expect(decodeDagFrame(concat(encodeDagFrame({ type: 'done', blocks: 3, bytes: 1234 })))).toEqual({ type: 'done', blocks: 3, bytes: 1234 })
    expect(decodeDagFrame(concat(encodeDagFrame({ type: 'error', name: 'MissingBlockError', message: 'gone' })))).toEqual({ type: 'error', name: 'MissingBlockError', message: 'gone' })
  })

  it('round-trips a CIDv0 block and an empty block', async () => {
    const cid = CID.createV0(await sha256.digest(new Uint8Array()))
    const frame = decodeDagFrame(concat(encodeDagFrame({ type: 'block', cid, bytes: new Uint8Array() })))
    expect(frame).toMatchObject({ type: 'block', bytes: new Uint8Array() })
    if (frame.type === 'block') expect(frame.cid.equals(cid)).toBe(true)
  })

  it('prefixes a message with its varint length', () => {
    const parts = lengthPrefixed([new Uint8Array(200), new Uint8Array(100)])
    expect(varint.decode(parts[0] as Uint8Array)).toEqual([300, 2])
    expect(parts.slice(1).map(p => p.byteLength)).toEqual([200, 100])
  })

  it('rejects empty, unknown, oversized and malformed frames', async () => {
    const cid = await rawCid(1)
    const reject = (bytes: Uint8Array): void => {
      expect(() => decodeDagFrame(bytes)).toThrow(expect.objectContaining({ name: 'DagProtocolError' }))
    }
    reject(new Uint8Array())
    reject(new Uint8Array([0x07, 1, 2]))
    reject(new Uint8Array(DAG_MAX_FRAME_BYTES + 1))
    reject(concat([new Uint8Array([0x00]), cid.bytes, new Uint8Array(DAG_MAX_BLOCK_BYTES + 1)]))
    reject(new Uint8Array([0x00, 0x01, 0x02])) // not a CID
    reject(concat([new Uint8Array([0x01]), dagCbor.encode({ blocks: -1, bytes: 0 })]))
    reject(concat([new Uint8Array([0x01]), dagCbor.encode({ blocks: 1 })]))
    reject(concat([new Uint8Array([0x02]), dagCbor.encode({ name: 'has spaces', message: 'x' })]))
    reject(concat([new Uint8Array([0x02]), dagCbor.encode({ name: 'E', message: 'x'.repeat(5000) })]))
    reject(new Uint8Array([0x01, 0xff]))
  })

  it('refuses to encode a block over the limit', async () => {
    const cid = await rawCid(1)
    expect(() => encodeDagFrame({ type: 'block', cid, bytes: new Uint8Array(DAG_MAX_BLOCK_BYTES + 1) })).toThrow(expect.objectContaining({ name: 'BlockTooLargeError' }))
  })
})
