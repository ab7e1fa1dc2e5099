export { dagTransferService, type DagSenderComponents, type DagTransferService } from './dag-sender.js'
export { entitlement, grantTable, type Entitlement, type EntitlementSource, type Grantee, type GrantTable } from './entitlement.js'
export { transferLimits, type TransferLimits } from './transfer-limits.js'
export { fetchDag, type DagFetchComponents, type DagFetchOptions, type DagFetchProgress, type DagFetchResult } from './dag-fetch.js'
export { blockLinks, mayHaveLinks } from '../store/block-links.js'
export { findHeldBlocks, type HeldBlocks } from './held-blocks.js'
export { readBlock } from '../store/read-block.js'
export { hasherFor, verifyBlock } from '../store/verify-block.js'
export {
  BlockTooLargeError, CorruptBlockError, DAG_PROTOCOL, DagProtocolError, DagRemoteError, InvalidBlockError,
  InvalidDagRequestError, MissingBlockError, NotEntitledError, DagBusyError, TransferIncompleteError, TransferTimeoutError, UnexpectedBlockError,
  UnsupportedCodecError, UnsupportedHashError
} from '../../protocol/transfer/dag.js'
