import type { CID } from 'multiformats/cid'
import type { PublicBlocks } from '../store/public-blocks.js'
import type { GrantTable } from '../transfer/entitlement.js'

/** Making content public, and private again: the grant `/floe/dag` checks, and the block index bitswap serves from. */
export interface Publishing {
  publish(root: CID, reason: string): Promise<void>
  /** drops `reason`'s grant; the blocks stay public while another public grant names the root */
  unpublish(root: CID, reason: string): Promise<void>
}

export function publishing ({ grants, blocks }: { grants: GrantTable, blocks: Pick<PublicBlocks, 'add' | 'remove'> }): Publishing {
  return {
    async publish (root, reason) {
      await blocks.add(root)
      await grants.grant(root, { public: true }, reason)
    },
    async unpublish (root, reason) {
      await grants.revoke(reason)
      if (!(await grants.grantees(root)).some(to => 'public' in to)) await blocks.remove(root)
    }
  }
}
