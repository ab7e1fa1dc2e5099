import * as dagPb from '@ipld/dag-pb'
import type { Blockstore } from 'interface-blockstore'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { SAVED_CODE, SAVED_HOME, SAVED_MARKER } from '../../protocol/workspaces/identity.js'
import type { RequireDag } from '../content/require-dag.js'
import { readBlock } from '../store/read-block.js'

export interface SavedWorkspaceComponents {
  blockstore: Pick<Blockstore, 'get'>
  requireDag: RequireDag
}

/**
 * What a workspace save holds: its home, and its /code when it was saved with it (layout 2:
 * protocol/workspaces/identity.ts). A save by an older provider is the home folder itself
 * (no marker): code null, the run's own code stays. The whole save is made local first (a
 * restart's provider fetches it from here).
 */
export async function openSavedWorkspace (components: SavedWorkspaceComponents, saved: CID): Promise<{ home: CID, code: CID | null }> {
  await components.requireDag(saved)
  if (saved.code !== dagPb.code) return { home: saved, code: null }
  const node = dagPb.decode(await readBlock(components.blockstore, saved))
  if (node.Data == null || UnixFS.unmarshal(node.Data).type !== 'directory') return { home: saved, code: null }
  const link = (name: string): CID | undefined => node.Links.find(l => l.Name === name)?.Hash
  const marker = link(SAVED_MARKER)
  const home = link(SAVED_HOME)
  const code = link(SAVED_CODE)
  if (marker == null || home == null || code == null || node.Links.length !== 3) return { home: saved, code: null }
  return { home, code }
}
