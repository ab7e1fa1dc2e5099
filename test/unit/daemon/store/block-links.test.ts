import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { blockLinks } from '../../../../daemon/store/block-links.js'

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

async function cidOf (code: number, bytes: Uint8Array): Promise<CID> {
  return CID.createV1(code, await sha256.digest(bytes))
}

describe('blockLinks', () => {
  it('reads dag-pb links in link order', async () => {
    const a = await rawCid('a')
    const b = await rawCid('b')
    const bytes = dagPb.encode(dagPb.prepare({ Data: new Uint8Array([8, 1]), Links: [{ Hash: a, Name: 'a' }, { Hash: b, Name: 'b' }] }))
    expect(blockLinks(await cidOf(dagPb.code, bytes), bytes).map(String)).toEqual([a.toString(), b.toString()])
  })

  it('finds no links in a raw block', async () => {
    const bytes = new TextEncoder().encode('just bytes')
    expect(blockLinks(await cidOf(raw.code, bytes), bytes)).toEqual([])
  })

  it('finds dag-cbor links anywhere in the value, in canonical key order', async () => {
    const [a, b, c] = await Promise.all([rawCid('a'), rawCid('b'), rawCid('c')])
    const bytes = dagCbor.encode({ zz: c, nested: { list: [a, { deep: b }] }, text: 'x' })
    // canonical dag-cbor sorts keys by length, then bytes: "zz", "text", "nested"
    expect(blockLinks(await cidOf(dagCbor.code, bytes), bytes).map(String)).toEqual([c, a, b].map(String))
  })

  it('refuses a codec it cannot read links from, naming the codec', async () => {
    const bytes = new TextEncoder().encode('{}')
    const cid = await cidOf(0x0129, bytes) // dag-json
    expect(() => blockLinks(cid, bytes)).toThrow(expect.objectContaining({ name: 'UnsupportedCodecError', message: expect.stringContaining('0x129') }))
  })

  it('reports a block that does not decode with its codec', async () => {
    const bytes = new Uint8Array([0xff, 0xff, 0xff])
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    expect(() => blockLinks(cid, bytes)).toThrow(expect.objectContaining({ name: 'InvalidBlockError' }))
  })
})
