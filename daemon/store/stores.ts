import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { AbortOptions } from '@libp2p/interface'
import { NotFoundError, PutFailedError } from 'interface-store'
import type { CID } from 'multiformats/cid'
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
/**
 * blockstore-fs with faster reads and writes for floe's MiB-sized blocks (profiled serving
 * and receiving a 256 MiB DAG): a block is read with one `readFile` rather than a 64 KiB read
 * stream (2.8× faster), and written to a temporary file renamed into place without the
 * per-write `mkdir` (shard folders are made once).
 */
let tempCount = 0

class BlockFiles extends FsBlockstore {
  readonly #root: string
  readonly #sharding: ShardingStrategy
  readonly #shards = new Set<string>()

  constructor (root: string, sharding: ShardingStrategy) {
    super(root, { shardingStrategy: sharding })
    this.#root = root
    this.#sharding = sharding
  }

  override async put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: AbortOptions = {}): Promise<CID> {
    const { dir, file } = this.#sharding.encode(cid)
    const folder = join(this.#root, dir)
    if (!this.#shards.has(dir)) {
      await mkdir(folder, { recursive: true })
      this.#shards.add(dir)
    }
    const path = join(folder, file)
    // `.NAME.tmp`: the stray-file pattern gc cleans up after a failed write; the pid and a
    // counter keep two writes of one block apart (randomBytes cost ~7 µs a block)
    const temp = join(folder, `.${file}.${process.pid}-${++tempCount}.tmp`)
    try {
      await writeFile(temp, bytes instanceof Uint8Array ? bytes : Readable.from(bytes as AsyncIterable<Uint8Array>), { signal: options.signal })
      await rename(temp, path)
    } catch (err: any) {
      await rm(temp, { force: true })
      if (err?.code === 'ENOSPC') throw err
      throw new PutFailedError(String(err?.message ?? err))
    }
    return cid
  }

  override async * get (cid: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    const { dir, file } = this.#sharding.encode(cid)
    try {
      yield await readFile(join(this.#root, dir, file), { signal: options.signal })
    } catch (err: any) {
      if (err?.code === 'ENOENT') throw new NotFoundError(`block ${cid} is not in the store`)
      throw err
    }
  }
}

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
  const blockstore = new BlockFiles(blocksPath, sharding)
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
