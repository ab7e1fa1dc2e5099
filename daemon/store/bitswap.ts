import { withBitswap } from '@helia/bitswap'
import type { Libp2p } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { CorruptBlockError } from '../../protocol/transfer/dag.js'
import { hasherFor, verifyBlock } from './verify-block.js'

interface BlockBroker {
  name: string
  retrieve(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  stop(): Promise<void>
}

export interface BitswapNode {
  /**
   * Reads that fall back to bitswap: a block missing locally is asked of connected peers,
   * checked against its CID, and kept in the local store.
   */
  networkStore: Pick<Blockstore, 'get'>
  stop(): Promise<void>
}

/**
 * Bitswap 1.2 (Helia's implementation) on floe's own libp2p host and block store, so any IPFS
 * peer can fetch our blocks and we theirs. Helia itself is not used: its package loads every
 * libp2p service it might ever need (DHT, relay, WebRTC, HTTP routers: +63 MiB resident,
 * measured), while floe needs bitswap alone. `withBitswap` is given the few members of a Helia
 * node it reads. No content routing: wants go to connected peers only.
 *
 * Serving: @helia/bitswap 4 answers each peer's wants from one shared store, asked per block
 * with no peer named (its ledger calls `has`/`get`), so it cannot check entitlement per peer.
 * It is given `serves`, a store of this node's public blocks only (store/public-blocks.ts);
 * everything else goes to entitled peers over `/floe/dag` alone.
 */
export async function startBitswap ({ libp2p, blockstore, serves }: { libp2p: Libp2p, blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>, serves: Pick<Blockstore, 'get' | 'has'> }): Promise<BitswapNode> {
  const brokers: BlockBroker[] = []
  const mixins: Array<{ start?: (node: unknown) => Promise<void> }> = []
  const node = {
    status: 'starting',
    libp2p,
    // read only by bitswap's ledgers, to answer peers' wants; fetched blocks go to `blockstore` below
    blockstore: serves,
    logger: defaultLogger(),
    routing: { async * findProviders () {} },
    getHasher: async (code: number) => {
      const hasher = hasherFor(code)
      if (hasher == null) throw new Error(`unsupported hash function 0x${code.toString(16)}`)
      return hasher
    },
    hasBlockBroker: (name: string) => brokers.some(b => b.name === name),
    addBlockBroker: (broker: BlockBroker) => { brokers.push(broker) },
    addMixin: (mixin: { start?: (node: unknown) => Promise<void> }) => { mixins.push(mixin) }
  }
  withBitswap(node as never)
  for (const mixin of mixins) await mixin.start?.(node)
  const bitswap = brokers.find(b => b.name === 'bitswap')
  if (bitswap == null) throw new Error('bitswap did not start')

  return {
    networkStore: {
      get (cid, options = {}) {
        return (async function * () {
          if (await blockstore.has(cid, options)) {
            yield * blockstore.get(cid, options)
            return
          }
          const bytes = await bitswap.retrieve(cid, { signal: options.signal })
          if (!(await verifyBlock(cid, bytes))) throw new CorruptBlockError(`a bitswap peer sent bytes for ${cid} that do not match its hash`, { peer: 'bitswap', cid: cid.toString() })
          await blockstore.put(cid, bytes, options)
          yield bytes
        })()
      }
    },
    async stop () {
      await bitswap.stop()
    }
  }
}
