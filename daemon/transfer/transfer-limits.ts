import {
  DAG_MAX_REQUEST_BYTES_PER_PEER, DAG_MAX_TRANSFERS, DAG_MAX_TRANSFERS_PER_PEER, DagBusyError, DAG_MAX_REQUEST_BYTES
} from '../../protocol/transfer/dag.js'

/** One admitted transfer: what it may read as its request, and its release. */
export interface TransferSlot {
  /**
   * The largest request this transfer may read: the peer's request bytes left, at most
   * DAG_MAX_REQUEST_BYTES. Reserved at admission (two transfers admitted together cannot both
   * spend the same bytes); `settle` gives back what the request did not use.
   */
  readonly maxRequestBytes: number
  /** the request read was `bytes` long: it keeps those (its `have` set lives as long as the transfer) */
  settle(bytes: number): void
  /** idempotent */
  release(): void
}

export interface TransferLimits {
  /** a slot for a new transfer from `peer`, or DagBusyError when it (or everyone) has as many as allowed */
  admit(peer: string): TransferSlot
  /** transfers in progress, per peer (for tests and logs) */
  active(peer?: string): number
}

/**
 * What the sender grants peers at once, by peer id across all its connections (libp2p caps
 * streams per connection only): transfers per peer, request bytes per peer, and transfers in
 * all. A transfer over a cap is refused at once, before its request is read.
 */
export function transferLimits (limits: { perPeer?: number, requestBytesPerPeer?: number, total?: number } = {}): TransferLimits {
  const perPeer = limits.perPeer ?? DAG_MAX_TRANSFERS_PER_PEER
  const bytesPerPeer = limits.requestBytesPerPeer ?? DAG_MAX_REQUEST_BYTES_PER_PEER
  const total = limits.total ?? DAG_MAX_TRANSFERS
  const peers = new Map<string, { transfers: number, bytes: number }>()
  let all = 0
  return {
    admit (peer) {
      const state = peers.get(peer) ?? { transfers: 0, bytes: 0 }
      if (all >= total) throw new DagBusyError(`this node is serving ${all} transfers, as many as it allows at once; try again later`)
      if (state.transfers >= perPeer) throw new DagBusyError(`${peer} has ${state.transfers} transfers in progress here, as many as one peer may; try again when one ends`)
      const left = bytesPerPeer - state.bytes
      if (left <= 0) throw new DagBusyError(`${peer}'s transfers in progress here hold ${state.bytes} request bytes, as many as one peer may; try again when one ends`)
      const reserved = Math.min(DAG_MAX_REQUEST_BYTES, left)
      state.transfers++
      state.bytes += reserved
      all++
      peers.set(peer, state)
      let held = reserved
      let released = false
      return {
        maxRequestBytes: reserved,
        settle (bytes) {
          if (released) return
          const kept = Math.min(held, Math.max(0, bytes))
          state.bytes -= held - kept
          held = kept
        },
        release () {
          if (released) return
          released = true
          state.transfers--
          state.bytes -= held
          all--
          if (state.transfers === 0) peers.delete(peer)
        }
      }
    },
    active (peer) {
      return peer == null ? all : peers.get(peer)?.transfers ?? 0
    }
  }
}
