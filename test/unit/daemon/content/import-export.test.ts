import { appendFile, mkdir, mkdtemp, rm, writeFile, utimes, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exportDag, importPath, snapshotIgnore, walkTree } from '../../../../daemon/content/index.js'
import { listTree, writeMixedTree } from '../../../helpers/trees.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-content-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('importPath', () => {
  it("gives the CIDs `ipfs add` publishes for known files with --cid-version 0", async () => {
    const known: Array<[string, string | Uint8Array, string]> = [
      ['empty file', '', 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'],
      ['hello world', 'hello world', 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'],
      ['hello world\\n', 'hello world\n', 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'],
      ['2680 × a', 'a'.repeat(2680), 'Qmawd3DRAY5YwtCzQe8gBumMXA1JCrzvbH2WQR6ZTykVoG']
    ]
    for (const [label, content, cid] of known) {
      const path = join(dir, 'f')
      await writeFile(path, content)
      expect((await importPath(new MemoryBlockstore(), path, { cidVersion: 0 })).cid.toString(), label).toBe(cid)
    }
    await mkdir(join(dir, 'empty'))
    expect((await importPath(new MemoryBlockstore(), join(dir, 'empty'), { cidVersion: 0 })).cid.toString()).toBe('QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')
  })

  it('defaults to CIDv1 with raw leaves and 1 MiB chunks', async () => {
    const path = join(dir, 'two-chunks.bin')
    await writeFile(path, Buffer.alloc(1024 * 1024 + 1, 7))
    const store = new MemoryBlockstore()
    const { cid } = await importPath(store, path)
    expect(cid.version).toBe(1)
    const root = dagPb.decode(await collect(store, cid))
    expect(root.Links.map(l => [l.Hash.code, l.Tsize])).toEqual([[0x55, 1024 * 1024], [0x55, 1]])
  })

  it('gives the same CID for the same tree anywhere, whatever the mtimes', async () => {
    await writeMixedTree(join(dir, 'a'), { bigBytes: 10 })
    await mkdir(join(dir, 'b'))
    // The same names and bytes, written in another order with other mtimes.
    const listing = await listTree(join(dir, 'a'))
    for (const [path, entry] of Object.entries(listing).reverse()) {
      if (entry.kind === 'dir') await mkdir(join(dir, 'b', path), { recursive: true })
    }
    for (const [path, entry] of Object.entries(listing)) {
      if (entry.kind === 'file') {
        await writeFile(join(dir, 'b', path), Buffer.from(entry.bytes, 'base64'))
        await utimes(join(dir, 'b', path), 1, 1)
      }
      if (entry.kind === 'symlink') await (await import('node:fs/promises')).symlink(entry.target, join(dir, 'b', path))
    }
    const a = await importPath(new MemoryBlockstore(), join(dir, 'a'))
    const b = await importPath(new MemoryBlockstore(), join(dir, 'b'))
    expect(b.cid.toString()).toBe(a.cid.toString())
    expect(a.files).toBe(4)
  })

  it('round-trips a mixed tree byte for byte, keeping symlinks as symlinks', async () => {
    await writeMixedTree(join(dir, 'src'))
    const store = new MemoryBlockstore()
    const { cid, bytes } = await importPath(store, join(dir, 'src'))
    const summary = await exportDag(store, cid, join(dir, 'out'))
    expect(summary.bytes).toBe(bytes)
    expect(await listTree(join(dir, 'out'))).toEqual(await listTree(join(dir, 'src')))
  })

  it('fails with FileChangedError when a file grows while it is read', async () => {
    const path = join(dir, 'growing.bin')
    await writeFile(path, Buffer.alloc(4 * 1024 * 1024))
    let appended = false
    await expect(importPath(new MemoryBlockstore(), path, {
      onProgress: () => {
        if (appended) return
        appended = true
        void appendFile(path, 'more')
      }
    })).rejects.toMatchObject({ name: 'FileChangedError', message: `${path} changed while it was being imported; import it again once it is complete` })
  })

  it('names a missing or unreadable path clearly', async () => {
    await expect(importPath(new MemoryBlockstore(), join(dir, 'nope'))).rejects.toMatchObject({ name: 'ContentPathError', message: `${join(dir, 'nope')} does not exist` })
  })

  it('chunks by content with rabin, so an insertion leaves most blocks shared', async () => {
    // Pseudo-random bytes from a fixed key (AES-CTR), so the chunk boundaries, and what the
    // insertion changes, are the same on every run: with random bytes the share of new
    // bytes varies from run to run (3–27% over 12 seeds, and 42% once).
    const { createCipheriv } = await import('node:crypto')
    const noise = (seed: number, length: number): Buffer => createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16)).update(Buffer.alloc(length))
    const original = noise(1, 8 * 1024 * 1024)
    const inserted = Buffer.concat([original.subarray(0, 4 * 1024 * 1024), noise(2, 1024), original.subarray(4 * 1024 * 1024)])
    await writeFile(join(dir, 'v1.bin'), original)
    await writeFile(join(dir, 'v2.bin'), inserted)
    const store = new MemoryBlockstore()
    const v1 = await importPath(store, join(dir, 'v1.bin'), { chunker: 'rabin' })
    const before = new Set((await all(store)).map(c => c.toString()))
    const v2 = await importPath(store, join(dir, 'v2.bin'), { chunker: 'rabin' })
    expect(v2.cid.toString()).not.toBe(v1.cid.toString())
    const leaves2 = dagPb.decode(await collect(store, v2.cid)).Links
    const newBytes = leaves2.filter(l => !before.has(l.Hash.toString())).reduce((n, l) => n + (l.Tsize ?? 0), 0)
    expect(newBytes / inserted.length).toBeLessThan(0.3)
    const fixed = new MemoryBlockstore()
    await importPath(fixed, join(dir, 'v1.bin'))
    const fixedBefore = new Set((await all(fixed)).map(c => c.toString()))
    const f2 = await importPath(fixed, join(dir, 'v2.bin'))
    const fixedNew = dagPb.decode(await collect(fixed, f2.cid)).Links.filter(l => !fixedBefore.has(l.Hash.toString())).length
    // Fixed-size chunks shift after the insertion point: every later block is new.
    expect(fixedNew).toBeGreaterThanOrEqual(4)
  })
})

describe('snapshot ignore rules', () => {
  it('skips .git, node_modules and __pycache__ by default, and what .gitignore and .floeignore name', async () => {
    for (const d of ['.git', 'node_modules/x', '__pycache__', 'data', 'src']) await mkdir(join(dir, d), { recursive: true })
    await writeFile(join(dir, '.gitignore'), '*.log\n/data/\n')
    await writeFile(join(dir, '.floeignore'), 'secret.txt\n')
    for (const f of ['train.py', 'run.log', 'secret.txt', 'src/model.py', 'src/debug.log', 'data/big.bin', '.git/HEAD', 'node_modules/x/i.js', '__pycache__/a.pyc']) {
      await writeFile(join(dir, f), f)
    }
    const tree = await walkTree(dir, { ignore: await snapshotIgnore(dir) })
    expect(tree.entries.map(e => e.path)).toEqual(['.floeignore', '.gitignore', 'src', 'src/model.py', 'train.py'])
  })
})

describe('exportDag', () => {
  it('refuses a hostile directory entry named ".." and leaves nothing at the destination', async () => {
    const store = new MemoryBlockstore()
    const file = await put(store, dagPb.prepare({ Data: new UnixFS({ type: 'file', data: new TextEncoder().encode('x') }).marshal() }))
    const dirNode = await put(store, dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: '..', Hash: file, Tsize: 10 }] }))
    await expect(exportDag(store, dirNode, join(dir, 'out'))).rejects.toMatchObject({ name: 'UnsafeContentError' })
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses to overwrite an existing destination', async () => {
    await mkdir(join(dir, 'taken'))
    const store = new MemoryBlockstore()
    await writeFile(join(dir, 'f'), 'x')
    const { cid } = await importPath(store, join(dir, 'f'))
    await expect(exportDag(store, cid, join(dir, 'taken'))).rejects.toMatchObject({ name: 'ContentPathError', message: `${join(dir, 'taken')} already exists; choose a path that does not exist yet` })
  })
})

async function collect (store: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of store.get(cid)) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function all (store: MemoryBlockstore): Promise<CID[]> {
  const cids: CID[] = []
  for await (const { cid } of store.getAll()) cids.push(cid)
  return cids
}

async function put (store: MemoryBlockstore, node: dagPb.PBNode): Promise<CID> {
  const bytes = dagPb.encode(node)
  const cid = CID.createV0(await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}
