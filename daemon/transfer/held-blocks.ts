import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { encodedCidSize, DAG_MAX_HAVE_CIDS, DAG_MAX_REQUEST_BYTES } from '../../protocol/transfer/dag.js'
import { blockLinks, mayHaveLinks } from '../store/block-links.js'
import { readBlock } from '../store/read-block.js'

export interface HeldBlocks {
  /** blocks of the DAG held here, reachable from the root through held blocks: the request's "have" list */
  have: CID[]
  /** the root (when not held) and the links of `have` blocks that are not in `have`: what the sender must send first */
  wanted: CID[]
}

/** Room left in a request for its root and encoding overhead. */
const REQUEST_HEADROOM_BYTES = 4096

/**
 * Walks what this store holds of a DAG, from the root, to tell the sender what not to send. A
 * transfer stores blocks parent first, so after a cut one this finds every block it stored.
 * Stops listing at the request's limits; the blocks left out are simply sent again.
 */
export async function findHeldBlocks (store: Pick<Blockstore, 'get' | 'has'>, root: CID, options: { signal?: AbortSignal } = {}): Promise<HeldBlocks> {
  const have: CID[] = []
  const wanted: CID[] = []
  const seen = new Set<string>()
  const stack: CID[] = [root]
  let requestBytes = REQUEST_HEADROOM_BYTES
  let full = false
  for (let cid = stack.pop(); cid != null; cid = stack.pop()) {
    options.signal?.throwIfAborted()
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    full ||= have.length >= DAG_MAX_HAVE_CIDS || requestBytes + encodedCidSize(cid) > DAG_MAX_REQUEST_BYTES
    if (full || !(await store.has(cid, options))) {
      wanted.push(cid)
      continue
    }
    const links = mayHaveLinks(cid) ? blockLinks(cid, await readBlock(store, cid, options)) : []
    have.push(cid)
    requestBytes += encodedCidSize(cid)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
  return { have, wanted }
}
