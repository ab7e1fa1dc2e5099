import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { BlockTooLargeError, DAG_MAX_BLOCK_BYTES, MissingBlockError } from '../../protocol/transfer/dag.js'

/**
 * A block's bytes from a local store, whole. interface-blockstore 7's `get` yields the block in
 * chunks (a generator, sync or async); this joins them, refusing blocks over DAG_MAX_BLOCK_BYTES.
 * Identity-hashed blocks are their own digest and need no store. Give it a local store: one
 * that goes to the network for a missing block would wait on peers instead of saying so.
 */
export async function readBlock (store: Pick<Blockstore, 'get'>, cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  if (cid.multihash.code === identity.code) return cid.multihash.digest
  const chunks: Uint8Array[] = []
  let length = 0
  try {
    for await (const chunk of store.get(cid, options)) {
      length += chunk.byteLength
      if (length > DAG_MAX_BLOCK_BYTES) {
        throw new BlockTooLargeError(`block ${cid} is over ${DAG_MAX_BLOCK_BYTES} bytes, the most this protocol moves`)
      }
      chunks.push(chunk)
    }
  } catch (err: any) {
    if (err?.name === 'NotFoundError') throw new MissingBlockError(`block ${cid} is not in the store`)
    throw err
  }
  if (chunks.length === 1 && chunks[0] != null) return chunks[0]
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}
