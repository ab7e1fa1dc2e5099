import { opendir, stat, unlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { exportCar, importCar, type CarProgress } from './car.js'
import { syncBlocks } from './stores.js'
import type { Blockstore } from 'interface-blockstore'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { RepoStat } from '../../protocol/store/repo.js'
import { blockKey, walkDag } from './dag-walk.js'
import type { GcGuard } from './gc-guard.js'
import type { PinSet } from './pins.js'
import { pinReasons } from './pin-reasons.js'

export interface RepoComponents {
  /** the local store only: gc, stat and CAR files never go to the network */
  blockstore: Pick<Blockstore, 'get' | 'has' | 'put'>
  blocksPath: string
  sharding: ShardingStrategy
  pins: PinSet
  guard: GcGuard
}

/** A block file, or (key undefined) a temporary file a failed write left behind. */
export interface BlockFile { key?: string, path: string, size: number }

/** A block is written to `.NAME.tmp` beside it and renamed into place (blockstore-fs, steno). */
function isStrayTemp (name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp')
}

/** Every block file in the store, with its multihash key and size, and stray temporary files. */
export async function * blockFiles (sharding: ShardingStrategy, blocksPath: string): AsyncGenerator<BlockFile> {
  const extension = sharding.extension
  for await (const shard of await opendir(blocksPath)) {
    if (!shard.isDirectory()) continue
    for await (const file of await opendir(join(blocksPath, shard.name))) {
      if (!file.isFile() || !(file.name.endsWith(extension) || isStrayTemp(file.name))) continue
      const path = join(blocksPath, shard.name, file.name)
      let info
      try {
        info = await stat(path)
      } catch (err: any) {
        if (err?.code === 'ENOENT') continue
        throw err
      }
      if (isStrayTemp(file.name)) {
        yield { path, size: info.size }
        continue
      }
      yield { key: blockKey(sharding.decode(file.name)), path, size: info.size }
    }
  }
}

/** The blocks every pinned DAG reaches (as much of each as is held). */
async function pinnedBlocks (blockstore: Pick<Blockstore, 'get' | 'has'>, pins: PinSet, signal?: AbortSignal): Promise<{ keys: Set<string>, pins: number }> {
  const keys = new Set<string>()
  let count = 0
  for await (const { cid } of pins.roots()) {
    count++
    for await (const block of walkDag(blockstore, cid, { skipMissing: true, signal })) keys.add(blockKey(block.cid))
  }
  return { keys, pins: count }
}

export function repoService ({ blockstore, blocksPath, sharding, pins, guard }: RepoComponents) {
  return {
    async stat (options: { signal?: AbortSignal } = {}): Promise<RepoStat> {
      const pinned = await pinnedBlocks(blockstore, pins, options.signal)
      const result: RepoStat = { blocks: 0, bytes: 0, pinnedBlocks: 0, pinnedBytes: 0, pins: pinned.pins, path: blocksPath }
      for await (const file of blockFiles(sharding, blocksPath)) {
        if (file.key == null) continue
        result.blocks++
        result.bytes += file.size
        if (pinned.keys.has(file.key)) {
          result.pinnedBlocks++
          result.pinnedBytes += file.size
        }
      }
      return result
    },

    /**
     * Removes every block no pin reaches, and the temporary files of writes that failed (a
     * full disk, a crash); writers wait meanwhile (see gc-guard.ts), so none is in flight.
     */
    async gc (options: { signal?: AbortSignal } = {}): Promise<{ removedBlocks: number, freedBytes: number }> {
      return await guard.exclusive(async () => {
        const pinned = await pinnedBlocks(blockstore, pins, options.signal)
        let removedBlocks = 0
        let freedBytes = 0
        for await (const file of blockFiles(sharding, blocksPath)) {
          if (file.key != null && pinned.keys.has(file.key)) continue
          await unlink(file.path)
          removedBlocks++
          freedBytes += file.size
        }
        return { removedBlocks, freedBytes }
      })
    },

    async exportCar (root: CID, file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ blocks: number, bytes: number }> {
      return await exportCar(blockstore, root, file, options)
    },

    /** Imports a CAR; once its blocks are durable, its roots are pinned (reason `car:FILE`). */
    async importCar (file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ roots: CID[], blocks: number, bytes: number }> {
      return await guard.shared(async () => {
        const result = await importCar(blockstore, file, options)
        await syncBlocks(blocksPath)
        for (const root of result.roots) await pinReasons.car(basename(file)).add(pins, root)
        return result
      })
    }
  }
}
