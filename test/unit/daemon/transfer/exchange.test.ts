import type { Stream } from '@libp2p/interface'
import { lpStream, streamPair } from '@libp2p/utils'
import { MemoryBlockstore } from 'blockstore-core'
import { importBytes } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { decodeDagRequest, encodeDagFrame, lengthPrefixed, type DagFrame, type DagRequest } from '../../../../protocol/transfer/dag.js'
import { receiveDag } from '../../../../daemon/transfer/dag-fetch.js'
import { serveDagRequest } from '../../../../daemon/transfer/dag-sender.js'

/** entitlement is tested in test/security and entitlement.test.ts: here every peer may fetch */
const anyone = { check: async (): Promise<void> => {} }
import { findHeldBlocks } from '../../../../daemon/transfer/held-blocks.js'

const PEER = 'sender-peer'

function randomBytes (n: number): Uint8Array {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)))
  return bytes
}

async function countBlocks (store: MemoryBlockstore): Promise<number> {
  let n = 0
  for await (const _ of store.getAll()) n++
  return n
}

/** A DAG of a few chunks: a dag-pb file node over raw leaves. */
async function smallDag (): Promise<{ store: MemoryBlockstore, root: CID }> {
  const store = new MemoryBlockstore()
  const { cid } = await importBytes(randomBytes(600_000), store, { cidVersion: 1, rawLeaves: true })
  return { store, root: cid }
}

/** Receives `root` into `store` over one end of a stream pair; `sender` drives the other end. */
async function exchange (store: MemoryBlockstore, root: CID, sender: (stream: Stream) => Promise<unknown>): Promise<ReturnType<typeof receiveDag>> {
  const [outbound, inbound] = await streamPair()
  const held = await findHeldBlocks(store, root)
  const sending = sender(inbound).catch(() => {})
  try {
    return await receiveDag(outbound, { blockstore: store, peer: PEER, root, held })
  } finally {
    await sending
  }
}

/** A scripted sender: reads the request, then writes the given frames and closes (or not). */
function scripted (frames: (request: DagRequest) => DagFrame[] | Promise<DagFrame[]>, options: { close?: boolean } = {}) {
  return async (stream: Stream): Promise<void> => {
    const lp = lpStream(stream)
    const request = decodeDagRequest((await lp.read()).subarray())
    lp.unwrap()
    for (const frame of await frames(request)) {
      for (const part of lengthPrefixed(encodeDagFrame(frame))) stream.send(part)
    }
    if (options.close !== false) await stream.close()
    else stream.abort(new Error('cut'))
  }
}

describe('DAG transfer over a stream pair', () => {
  it('moves a whole DAG and then, asked again, nothing', async () => {
    const source = await smallDag()
    const target = new MemoryBlockstore()
    const serve = async (stream: Stream): Promise<unknown> => await serveDagRequest(stream, { blockstore: source.store, access: anyone }, { peer: 'receiver', signal: AbortSignal.timeout(10_000) })
    const first = await exchange(target, source.root, serve)
    expect(first.blocks).toBe(await countBlocks(source.store))
    expect(first.skippedBlocks).toBe(0)
    expect(await countBlocks(target)).toBe(await countBlocks(source.store))
    const second = await exchange(target, source.root, serve)
    expect(second).toEqual({ blocks: 0, bytes: 0, skippedBlocks: first.blocks })
  })

  it('refuses a well-hashed block that is not part of the DAG, and stores nothing of it', async () => {
    const source = await smallDag()
    const stranger = new TextEncoder().encode('not in this DAG')
    const strangerCid = CID.createV1(raw.code, await sha256.digest(stranger))
    const target = new MemoryBlockstore()
    const err = await exchange(target, source.root, scripted(() => [{ type: 'block', cid: strangerCid, bytes: stranger }])).catch(e => e)
    expect(err).toMatchObject({ name: 'UnexpectedBlockError', peer: PEER, cid: strangerCid.toString(), message: expect.stringContaining(PEER) })
    expect(await target.has(strangerCid)).toBe(false)
  })

  it('refuses a block sent twice', async () => {
    const bytes = new TextEncoder().encode('leaf')
    const root = CID.createV1(raw.code, await sha256.digest(bytes))
    const target = new MemoryBlockstore()
    const err = await exchange(target, root, scripted(() => [{ type: 'block', cid: root, bytes }, { type: 'block', cid: root, bytes }])).catch(e => e)
    expect(err).toMatchObject({ name: 'UnexpectedBlockError' })
  })

  it('tells a cut transfer from a finished one', async () => {
    const source = await smallDag()
    const target = new MemoryBlockstore()
    const rootBytes = await readAll(source.store, source.root)
    // the root arrives, then the stream ends without `done`
    const err = await exchange(target, source.root, scripted(() => [{ type: 'block', cid: source.root, bytes: rootBytes }])).catch(e => e)
    expect(err).toMatchObject({ name: 'TransferIncompleteError' })
    expect(await target.has(source.root)).toBe(true)
  })

  it('refuses a done frame whose counts disagree, or that leaves linked blocks missing', async () => {
    const source = await smallDag()
    const rootBytes = await readAll(source.store, source.root)
    const lying = await exchange(new MemoryBlockstore(), source.root, scripted(() => [{ type: 'done', blocks: 1, bytes: 10 }])).catch(e => e)
    expect(lying).toMatchObject({ name: 'DagProtocolError' })
    const early = await exchange(new MemoryBlockstore(), source.root, scripted(() => [
      { type: 'block', cid: source.root, bytes: rootBytes },
      { type: 'done', blocks: 1, bytes: rootBytes.byteLength }
    ])).catch(e => e)
    expect(early).toMatchObject({ name: 'TransferIncompleteError', message: expect.stringMatching(/never came/) })
  })

  it("raises the sender's refusal under its own name", async () => {
    const source = await smallDag()
    const err = await exchange(new MemoryBlockstore(), source.root, scripted(() => [{ type: 'error', name: 'MissingBlockError', message: `block ${source.root} is not in the store` }])).catch(e => e)
    expect(err).toMatchObject({ name: 'MissingBlockError', message: `${PEER} cannot send ${source.root}: block ${source.root} is not in the store` })
    const odd = await exchange(new MemoryBlockstore(), source.root, scripted(() => [{ type: 'error', name: 'SomethingNewError', message: 'later' }])).catch(e => e)
    expect(odd).toMatchObject({ name: 'DagRemoteError', remoteName: 'SomethingNewError' })
    const sneaky = await exchange(new MemoryBlockstore(), source.root, scripted(() => [{ type: 'error', name: 'constructor', message: 'x' }])).catch(e => e)
    expect(sneaky).toMatchObject({ name: 'DagRemoteError', remoteName: 'constructor' })
  })

  it('answers a malformed request with InvalidDagRequestError', async () => {
    const source = await smallDag()
    const [outbound, inbound] = await streamPair()
    const serving = serveDagRequest(inbound, { blockstore: source.store, access: anyone }, { peer: 'receiver', signal: AbortSignal.timeout(10_000) }).catch(e => e)
    for (const part of lengthPrefixed([new Uint8Array([0xa1, 0x61, 0x78, 0x01])])) outbound.send(part) // {"x": 1}
    await outbound.close()
    const lp = lpStream(outbound)
    const reply = (await lp.read()).subarray()
    expect(reply[0]).toBe(0x02)
    expect(await serving).toMatchObject({ name: 'InvalidDagRequestError' })
  })
})

async function readAll (store: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of store.get(cid)) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0] as Uint8Array : new Uint8Array(Buffer.concat(chunks))
}
