import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore } from 'blockstore-core'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { requireDag, type DagSourceComponents } from '../../../../daemon/content/require-dag.js'

async function put (store: MemoryBlockstore, code: number, bytes: Uint8Array): Promise<CID> {
  const cid = CID.createV1(code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

/** A root linking `n` raw leaves of 1 KiB each, in `store`. */
async function dag (store: MemoryBlockstore, n: number): Promise<CID> {
  const leaves: CID[] = []
  for (let i = 0; i < n; i++) leaves.push(await put(store, raw.code, new Uint8Array(1024).fill(i)))
  return await put(store, dagCbor.code, dagCbor.encode({ leaves }))
}

/** Like store/bitswap.ts's network store: a block missing locally comes from `remote` and is kept. */
function fakeBitswap (local: MemoryBlockstore, remote: MemoryBlockstore): Pick<Blockstore, 'get'> {
  return {
    get (cid, options) {
      return (async function * () {
        if (!(await local.has(cid))) await local.put(cid, await toBytes(remote.get(cid, options)))
        yield * local.get(cid, options)
      })()
    }
  }
}

async function toBytes (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts)
}

function components (blockstore: MemoryBlockstore, bitswap?: Pick<Blockstore, 'get'>): DagSourceComponents {
  return {
    libp2p: { getConnections: () => [], peerStore: {} as never, dial: async () => { throw new Error('no peer') }, dialProtocol: async () => { throw new Error('no peers') } },
    blockstore,
    bitswap,
    distrusted: new Set(),
    log: pino({ level: 'silent' })
  }
}

describe('requireDag', () => {
  it('does nothing for a DAG held whole', async () => {
    const local = new MemoryBlockstore()
    const root = await dag(local, 3)
    expect(await requireDag(components(local), root)).toEqual({ via: 'local', blocks: 0, bytes: 0, ms: 0 })
  })

  it('throws ContentUnavailableError when no peer can send it', async () => {
    const root = await dag(new MemoryBlockstore(), 3)
    await expect(requireDag(components(new MemoryBlockstore()), root)).rejects.toMatchObject({
      name: 'ContentUnavailableError',
      message: `${root} is not held here and no peer is connected to fetch it from; connect one with floe connect`
    })
  })

  it('makes the DAG whole locally over bitswap (auto falls back to it), counting what came', async () => {
    const remote = new MemoryBlockstore()
    const root = await dag(remote, 40)
    const local = new MemoryBlockstore()
    const progress: number[] = []
    const fetched = await requireDag(components(local, fakeBitswap(local, remote)), root, { transport: 'auto', onProgress: b => progress.push(b) })
    expect(fetched).toMatchObject({ via: 'bitswap', blocks: 41 })
    expect(fetched.bytes).toBeGreaterThan(40 * 1024)
    expect(progress.at(-1)).toBe(fetched.bytes)
    expect(await requireDag(components(local), root)).toMatchObject({ via: 'local' })
  })

  it('does not use bitswap for the default (bulk) transport', async () => {
    const remote = new MemoryBlockstore()
    const root = await dag(remote, 2)
    const local = new MemoryBlockstore()
    await expect(requireDag(components(local, fakeBitswap(local, remote)), root)).rejects.toMatchObject({ name: 'ContentUnavailableError' })
  })

  it('stops past maxBytes with ContentTooLargeError', async () => {
    const remote = new MemoryBlockstore()
    const root = await dag(remote, 40)
    const local = new MemoryBlockstore()
    await expect(requireDag(components(local, fakeBitswap(local, remote)), root, { transport: 'bitswap', maxBytes: 10 * 1024 })).rejects.toMatchObject({ name: 'ContentTooLargeError' })
  })
})
