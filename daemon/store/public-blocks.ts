import type { ClassicLevel } from 'classic-level'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { blockKey, walkDag } from './dag-walk.js'

/**
 * Every block of the DAGs this node made public, by block: bitswap asks its store for single
 * blocks with no peer and no root to check against (@helia/bitswap 4's ledger calls
 * `blockstore.has/get` per wanted CID), so it is given a store that holds only these.
 * `pubblk!<block key>!<root>` → '': one key per (block, public root), so a block shared by
 * two public DAGs stays public until both go.
 */
export interface PublicBlocks {
  /** walks the DAG (links only: raw leaves are not read) and marks each block */
  add(root: CID, options?: { signal?: AbortSignal }): Promise<number>
  remove(root: CID, options?: { signal?: AbortSignal }): Promise<void>
  has(cid: CID): Promise<boolean>
}

const PREFIX = 'pubblk!'
/** Index writes per batch while marking a large DAG. */
const BATCH = 4096

export function publicBlocks ({ index, blockstore }: { index: Pick<ClassicLevel<string, string>, 'batch' | 'keys'>, blockstore: Pick<Blockstore, 'get' | 'has'> }): PublicBlocks {
  const mark = async (root: CID, type: 'put' | 'del', signal?: AbortSignal): Promise<number> => {
    let ops: Array<{ type: 'put', key: string, value: string } | { type: 'del', key: string }> = []
    let blocks = 0
    for await (const { cid } of walkDag(blockstore, root, { signal, skipMissing: type === 'del' })) {
      const key = `${PREFIX}${blockKey(cid)}!${root.toString()}`
      ops.push(type === 'put' ? { type, key, value: '' } : { type, key })
      blocks++
      if (ops.length >= BATCH) {
        await index.batch(ops)
        ops = []
      }
    }
    await index.batch(ops, { sync: true })
    return blocks
  }
  return {
    async add (root, options = {}) {
      return await mark(root, 'put', options.signal)
    },
    async remove (root, options = {}) {
      await mark(root, 'del', options.signal)
    },
    async has (cid) {
      const prefix = `${PREFIX}${blockKey(cid)}!`
      for await (const _key of index.keys({ gt: prefix, lt: prefix + '\xff', limit: 1 })) return true
      return false
    }
  }
}

/** The store bitswap serves from: this node's blocks, but only the public ones. */
export function publicOnly (blockstore: Pick<Blockstore, 'get' | 'has'>, blocks: Pick<PublicBlocks, 'has'>): Pick<Blockstore, 'get' | 'has'> {
  return {
    async has (cid, options) {
      return await blocks.has(cid) && await blockstore.has(cid, options)
    },
    get (cid, options) {
      return (async function * () {
        if (!await blocks.has(cid)) throw Object.assign(new Error(`block ${cid.toString()} is not public`), { name: 'NotFoundError' })
        yield * blockstore.get(cid, options)
      })()
    }
  }
}
