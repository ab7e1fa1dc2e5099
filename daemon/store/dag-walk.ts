import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { base64 } from 'multiformats/bases/base64'
import { blockLinks, mayHaveLinks } from './block-links.js'
import { readBlock } from './read-block.js'

/** Blocks are stored by multihash: a CIDv0 and a CIDv1 of the same bytes are one block. */
export function blockKey (cid: CID): string {
  return base64.baseEncode(cid.multihash.bytes)
}

export interface WalkOptions {
  signal?: AbortSignal
  /** read raw leaves too (they have no links, so a walk for links alone skips them) */
  withBytes?: boolean
  /** pass over blocks the store lacks instead of failing (gc keeps what there is of a partial DAG) */
  skipMissing?: boolean
}

/**
 * Every block of a DAG once, depth first in link order, parents before children: the order
 * a CAR file or a transfer wants.
 */
export async function * walkDag (store: Pick<Blockstore, 'get' | 'has'>, root: CID, options: WalkOptions = {}): AsyncGenerator<{ cid: CID, bytes?: Uint8Array }> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  for (let cid = stack.pop(); cid != null; cid = stack.pop()) {
    options.signal?.throwIfAborted()
    const key = blockKey(cid)
    if (seen.has(key)) continue
    seen.add(key)
    const needBytes = options.withBytes === true || mayHaveLinks(cid)
    let bytes: Uint8Array | undefined
    if (needBytes) {
      try {
        bytes = await readBlock(store, cid, options)
      } catch (err: any) {
        if (options.skipMissing === true && err?.name === 'MissingBlockError') continue
        throw err
      }
    } else if (options.skipMissing === true && !(await store.has(cid, options))) {
      continue
    }
    yield { cid, bytes: options.withBytes === true ? bytes : undefined }
    const links = bytes != null && mayHaveLinks(cid) ? blockLinks(cid, bytes) : []
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
}
