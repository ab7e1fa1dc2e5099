import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importPath } from '../../../../daemon/content/index.js'
import { gcGuard } from '../../../../daemon/store/gc-guard.js'
import { pinSet } from '../../../../daemon/store/pins.js'
import { repoService } from '../../../../daemon/store/repo.js'
import { openStores, type Stores } from '../../../../daemon/store/stores.js'

describe('repoService on the real block files', () => {
  let home: string
  let stores: Stores
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'floe-repo-'))
    stores = await openStores(home)
  })
  afterEach(async () => {
    await stores.close()
    await rm(home, { recursive: true, force: true })
  })

  it('gc keeps pinned DAGs whole, removes the rest and the temporary files of interrupted writes', async () => {
    const pins = pinSet(stores.index)
    const repo = repoService({ ...stores, pins, guard: gcGuard() })
    await writeFile(join(home, 'kept.txt'), 'kept\n')
    await writeFile(join(home, 'dropped.bin'), Buffer.alloc(3 * 1024 * 1024 + 1, 9))
    const kept = await importPath(stores.blockstore, join(home, 'kept.txt'))
    await importPath(stores.blockstore, join(home, 'dropped.bin'))
    await pins.add(kept.cid, 'test')
    // What a crash in the middle of a block write leaves behind.
    const shard = (await readdir(stores.blocksPath))[0] ?? 'AA'
    await writeFile(join(stores.blocksPath, shard, '.CIQSOMETHING.data.0a1b2c.tmp'), Buffer.alloc(1000))

    const before = await repo.stat()
    expect(before).toMatchObject({ pins: 1, pinnedBlocks: 1, pinnedBytes: 5 })
    expect(before.blocks).toBeGreaterThan(1)
    const gc = await repo.gc()
    expect(gc.removedBlocks).toBe(before.blocks - 1 + 1)
    expect(gc.freedBytes).toBe(before.bytes - 5 + 1000)
    expect(await repo.stat()).toMatchObject({ blocks: 1, bytes: 5, pinnedBlocks: 1, pinnedBytes: 5 })
    expect((await readdir(join(stores.blocksPath, shard))).filter(name => name.endsWith('.tmp'))).toEqual([])
  })
})
