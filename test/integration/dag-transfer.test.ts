import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { MemoryBlockstore } from 'blockstore-core'
import type { Blockstore } from 'interface-blockstore'
import { importer } from 'ipfs-unixfs-importer'
import { createLibp2p, type Libp2p } from 'libp2p'
import { equals } from 'multiformats/bytes'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { dagTransferService, fetchDag, type DagFetchProgress, type DagTransferService } from '../../daemon/transfer/index.js'

const MiB = 1024 * 1024

let nodes: Libp2p[] = []
let services: DagTransferService[] = []
afterEach(async () => {
  await Promise.allSettled(services.map(async s => { await s.stop() }))
  await Promise.allSettled(nodes.map(async n => { await n.stop() }))
  nodes = []
  services = []
})

async function node (): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  nodes.push(n)
  return n
}

/** A sender serving `blockstore`, and a receiver connected to it. */
async function pair (blockstore: Pick<Blockstore, 'get' | 'has'>): Promise<{ sender: Libp2p, receiver: Libp2p }> {
  const [sender, receiver] = await Promise.all([node(), node()])
  // entitlement is test/security/content-access.test.ts's concern: here every peer may fetch
  const service = dagTransferService({ libp2p: sender, blockstore, access: { check: async () => {} } })
  services.push(service)
  await service.start()
  await service.start() // idempotent
  await receiver.dial(sender.getMultiaddrs()[0]!)
  return { sender, receiver }
}

function randomBytes (n: number): Uint8Array {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)))
  return bytes
}

/** A folder of mixed files (a few MiB of random bytes, small files, an empty one, a duplicate) imported as UnixFS. */
async function importTree (store: MemoryBlockstore): Promise<CID> {
  const small = new TextEncoder().encode('print("hello")\n')
  const files = [
    { path: 'data/big.bin', content: randomBytes(3 * MiB + 12345) },
    { path: 'data/medium.bin', content: randomBytes(700_000) },
    { path: 'train.py', content: small },
    { path: 'copy/train.py', content: small },
    { path: 'empty.txt', content: new Uint8Array() },
    { path: 'README.md', content: new TextEncoder().encode('# a dataset\n') }
  ]
  let root: CID | undefined
  for await (const entry of importer(files, store, { cidVersion: 1, rawLeaves: true, wrapWithDirectory: true })) root = entry.cid
  if (root == null) throw new Error('nothing imported')
  return root
}

async function allBlocks (store: MemoryBlockstore): Promise<Map<string, Uint8Array>> {
  const blocks = new Map<string, Uint8Array>()
  for await (const { cid, bytes } of store.getAll()) {
    const chunks: Uint8Array[] = []
    for await (const chunk of bytes) chunks.push(chunk)
    // MemoryBlockstore keys by multihash and lists every block as raw: compare by the CID it lists
    blocks.set(cid.toString(), new Uint8Array(Buffer.concat(chunks)))
  }
  return blocks
}

describe('/floe/dag/1.0.0 between two libp2p nodes', () => {
  it('moves a tree of mixed files: every block, byte for byte, under the same root', async () => {
    const source = new MemoryBlockstore()
    const root = await importTree(source)
    const { sender, receiver } = await pair(source)
    const target = new MemoryBlockstore()
    const seen: DagFetchProgress[] = []
    const result = await fetchDag({ libp2p: receiver, blockstore: target }, sender.peerId, root, { onProgress: p => seen.push(p) })

    const sent = await allBlocks(source)
    const got = await allBlocks(target)
    expect(got.size).toBe(sent.size)
    for (const [key, bytes] of sent) expect(got.get(key), key).toEqual(bytes)
    expect(await target.has(root)).toBe(true)
    expect(result.skippedBlocks).toBe(0)
    expect(result.blocks).toBe(sent.size)
    expect(result.bytes).toBe([...sent.values()].reduce((n, b) => n + b.byteLength, 0))
    expect(seen.at(-1)).toEqual(result)
  })

  it('resumes a cut transfer, fetching only what is missing', async () => {
    const source = new MemoryBlockstore()
    const root = await importTree(source)
    const { sender, receiver } = await pair(source)
    const target = new MemoryBlockstore()
    const total = (await allBlocks(source)).size

    const controller = new AbortController()
    const cut = await fetchDag({ libp2p: receiver, blockstore: target }, sender.peerId, root, {
      signal: controller.signal,
      onProgress: p => { if (p.blocks >= 5) controller.abort() }
    }).catch(err => err)
    expect(cut).toMatchObject({ name: 'AbortError' })
    const stored = (await allBlocks(target)).size
    expect(stored).toBeGreaterThanOrEqual(5)
    expect(stored).toBeLessThan(total)

    const resumed = await fetchDag({ libp2p: receiver, blockstore: target }, sender.peerId, root)
    expect(resumed.skippedBlocks).toBe(stored)
    expect(resumed.blocks).toBe(total - stored)
    expect((await allBlocks(target)).size).toBe(total)
  })

  it('refuses a block whose bytes do not match its CID, and does not store it', async () => {
    const source = new MemoryBlockstore()
    const root = await importTree(source)
    // one of the file chunks, from the middle of the store (MemoryBlockstore lists blocks by multihash)
    const chunks: CID[] = []
    for (const [key, bytes] of await allBlocks(source)) if (bytes.byteLength >= 1024) chunks.push(CID.parse(key))
    const victim = chunks[Math.floor(chunks.length / 2)]!
    const isVictim = (cid: CID): boolean => equals(cid.multihash.bytes, victim.multihash.bytes)
    const target = new MemoryBlockstore()
    const hostile: Pick<Blockstore, 'get' | 'has'> = {
      has: async (cid, options) => await source.has(cid, options),
      get: async function * (cid, options) {
        for await (const chunk of source.get(cid, options)) {
          if (isVictim(cid)) {
            const bad = chunk.slice()
            bad[0] = (bad[0] ?? 0) ^ 0xff
            yield bad
          } else {
            yield chunk
          }
        }
      }
    }
    const { sender, receiver } = await pair(hostile)
    const err = await fetchDag({ libp2p: receiver, blockstore: target }, sender.peerId, root).catch(e => e)
    expect(err).toMatchObject({ name: 'CorruptBlockError', peer: sender.peerId.toString(), message: expect.stringContaining(sender.peerId.toString()) })
    const corrupt = CID.parse(err.cid)
    expect(isVictim(corrupt)).toBe(true)
    expect(await target.has(corrupt)).toBe(false)
  })

  it('names the root when the sender does not have it', async () => {
    const bytes = new TextEncoder().encode('nobody has this')
    const root = CID.createV1(raw.code, await sha256.digest(bytes))
    const { sender, receiver } = await pair(new MemoryBlockstore())
    const err = await fetchDag({ libp2p: receiver, blockstore: new MemoryBlockstore() }, sender.peerId, root).catch(e => e)
    expect(err).toMatchObject({ name: 'MissingBlockError', message: expect.stringContaining(root.toString()) })
  })
})
