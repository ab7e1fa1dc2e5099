import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { renameSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import type { Ignore } from 'ignore'
import { UnixFS } from 'ipfs-unixfs'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exportDag, importPath } from '../../../../daemon/content/index.js'
import { readBlock } from '../../../../daemon/transfer/index.js'

/**
 * Content is data, never a place: what the daemon writes from a DAG and what it reads from a
 * folder a job could change must never lead it to a host path.
 */

const exec = promisify(execFile)
let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-safety-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function putNode (store: MemoryBlockstore, node: dagPb.PBNode): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare(node))
  const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return cid
}

describe('reading a folder a job could change (importPath)', () => {
  it('refuses a file whose folder was swapped for a link after it was listed, instead of reading where the link leads', async () => {
    const root = join(dir, 'home')
    const host = join(dir, 'host')
    await mkdir(join(root, 'd'), { recursive: true })
    await mkdir(host)
    // same size and mtime, so that only the file's identity tells them apart
    await writeFile(join(root, 'd', 'key'), 'x'.repeat(32))
    await writeFile(join(host, 'key'), 'HOST-SECRET-'.padEnd(32, '!'))
    const when = new Date('2026-01-01T00:00:00Z')
    await utimes(join(root, 'd', 'key'), when, when)
    await utimes(join(host, 'key'), when, when)
    await writeFile(join(root, 'zz'), 'last')
    // The swap lands between the walk's lstat of d/key and the read of it: the walk asks the
    // ignore rules about each entry in order, and `zz` comes after everything under d.
    const swapAfterWalk = {
      ignores (path: string): boolean {
        if (path === 'zz') {
          renameSync(join(root, 'd'), join(root, 'd.real'))
          symlinkSync(host, join(root, 'd'))
        }
        return false
      }
    } as unknown as Ignore
    const store = new MemoryBlockstore()
    const attempt = importPath(store, root, { ignore: swapAfterWalk })
    await expect(attempt).rejects.toMatchObject({ name: 'UnsafeContentError' })
    await expect(attempt).rejects.toThrow(/replaced while being imported/)
    for await (const { cid } of store.getAll()) {
      expect(new TextDecoder().decode(await readBlock(store, cid))).not.toContain('HOST-SECRET')
    }
  })

  it.runIf(process.getuid?.() === 0)('refuses, as one file system, an entry on another device (a mount, or a folder swapped for a link to the host)', async () => {
    const out = join(dir, 'out')
    await mkdir(join(out, 'm'), { recursive: true })
    await writeFile(join(out, 'a'), 'a')
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'none', join(out, 'm')])
    try {
      await writeFile(join(out, 'm', 'elsewhere'), 'b')
      await expect(importPath(new MemoryBlockstore(), out, { oneFileSystem: true })).rejects.toThrow(/is on another file system than/)
      expect((await importPath(new MemoryBlockstore(), out)).files).toBe(2)
    } finally {
      await exec('umount', [join(out, 'm')])
    }
  })

  it('stops at its budget while walking', async () => {
    await mkdir(join(dir, 'out'))
    for (let i = 0; i < 5; i++) await writeFile(join(dir, 'out', `f${i}`), 'x'.repeat(1000))
    await expect(importPath(new MemoryBlockstore(), join(dir, 'out'), { budget: { maxBytes: 2500, maxEntries: 100 } })).rejects.toMatchObject({ name: 'ContentTooLargeError' })
    await expect(importPath(new MemoryBlockstore(), join(dir, 'out'), { budget: { maxBytes: 1e6, maxEntries: 3 } })).rejects.toThrow(/more than 3 files and folders/)
  })
})

describe('writing a DAG (exportDag)', () => {
  it('refuses a root that is a symbolic link, writing nothing', async () => {
    const store = new MemoryBlockstore()
    const link = await putNode(store, { Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode('/etc') }).marshal(), Links: [] })
    await expect(exportDag(store, link, join(dir, 'code'))).rejects.toThrow(/is a symbolic link, not a file or folder/)
    expect(await readdir(dir)).toEqual([])
  })

  it('writes links inside content as links, never through them, owned as asked', async () => {
    const store = new MemoryBlockstore()
    const link = await putNode(store, { Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode(dir) }).marshal(), Links: [] })
    const folder = await putNode(store, { Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: 'v', Hash: link, Tsize: 0 }] })
    await exportDag(store, folder, join(dir, 'code'), { owner: { uid: 65534, gid: 65534 } })
    const stats = await lstat(join(dir, 'code', 'v'))
    expect(stats.isSymbolicLink()).toBe(true)
    expect(stats.uid).toBe(65534)
    expect((await stat(dir)).uid).toBe(process.getuid?.())
  })

  it('refuses, before writing, a DAG that declares more than its budget (one block linked 1,500 times), and one that nests folders past the entry budget', async () => {
    const store = new MemoryBlockstore()
    const MiB = 1024 * 1024
    const leaf = CID.createV1(0x55, await sha256.digest(new Uint8Array(MiB)))
    await store.put(leaf, new Uint8Array(MiB))
    const file = new UnixFS({ type: 'file' })
    for (let i = 0; i < 1500; i++) file.addBlockSize(BigInt(MiB))
    const bomb = await putNode(store, { Data: file.marshal(), Links: Array.from({ length: 1500 }, () => ({ Hash: leaf, Tsize: MiB })) })
    expect(Number((await exporter(bomb, store)).size)).toBe(1500 * MiB)
    await expect(exportDag(store, bomb, join(dir, 'bomb'), { budget: { maxBytes: 100 * MiB, maxEntries: 1000 } })).rejects.toThrow(/holds more than 104857600 bytes/)
    // a folder that links the same folder 10 times, 6 levels deep: a million entries from 7 blocks
    let level = await putNode(store, { Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] })
    for (let depth = 0; depth < 6; depth++) {
      level = await putNode(store, { Data: new UnixFS({ type: 'directory' }).marshal(), Links: Array.from({ length: 10 }, (_, i) => ({ Name: `d${i}`, Hash: level, Tsize: 0 })) })
    }
    const started = Date.now()
    await expect(exportDag(store, level, join(dir, 'nest'), { budget: { maxBytes: MiB, maxEntries: 5000 } })).rejects.toThrow(/more than 5000 files and folders/)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await readdir(dir)).toEqual([])
  })

  it('never writes through a link that names an existing path', async () => {
    await symlink('/etc', join(dir, 'taken'))
    const store = new MemoryBlockstore()
    const empty = await putNode(store, { Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] })
    await expect(exportDag(store, empty, join(dir, 'taken'))).rejects.toThrow(/already exists/)
    expect(await readFile('/etc/hostname', 'utf8').catch(() => 'x')).toBeDefined()
  })
})
