import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast, type ShardingStrategy } from 'blockstore-fs/sharding'
import { ClassicLevel } from 'classic-level'

const run = promisify(execFile)

/**
 * The home's stores. Blocks are files (one per block, sharded by the multihash's last two
 * base32 characters): measured 3.2× faster to import into than LevelDB, which rewrites
 * megabyte values during compaction (BENCHMARKS.md). floe's indexes (datasets, pins) are
 * LevelDB.
 */
export interface Stores {
  blockstore: FsBlockstore
  index: ClassicLevel<string, string>
  blocksPath: string
  /** how block files are named: `blocks/<shard>/<base32 multihash>.data` */
  sharding: ShardingStrategy
  close(): Promise<void>
}

export async function openStores (home: string): Promise<Stores> {
  const blocksPath = join(home, 'blocks')
  const sharding = new NextToLast()
  const blockstore = new FsBlockstore(blocksPath, { shardingStrategy: sharding })
  await blockstore.open()
  const index = new ClassicLevel<string, string>(join(home, 'index'))
  await index.open()
  return {
    blockstore,
    index,
    blocksPath,
    sharding,
    async close () {
      await index.close()
      await blockstore.close()
    }
  }
}

/**
 * Makes every block written so far durable: `sync -f` (syncfs) on the block store's file
 * system. Called before a dataset version is recorded, so no record ever points at blocks a
 * crash could lose.
 */
export async function syncBlocks (blocksPath: string): Promise<void> {
  await run('sync', ['-f', blocksPath])
}
