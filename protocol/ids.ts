import { z } from 'zod'

/**
 * Every name floe puts on the wire, each with its version, in one place: libp2p protocol
 * ids, gossipsub topics, DHT keys and signing domains. A wire change is a new version here,
 * never an edit of a format under an old one. Each protocol's own module (`jobs/wire.ts`,
 * `transfer/dag.ts`, `projects/project-log.ts`, `workspaces/tunnel.ts`) re-exports its id
 * beside its limits and codecs. Then the shapes of the ids its messages carry.
 */

// ---- libp2p stream protocols ----------------------------------------------------------------

/** One direct stream per job between client and provider (protocol/jobs/wire.ts). */
export const JOB_PROTOCOL = '/floe/job/1.3.0'
/**
 * 1.2.0 had no `system` samples (a job's CPU, memory, disk and GPU each second, see
 * protocol/jobs/system-metrics.ts): a 1.2.0 client refuses a message type it does not know as
 * a protocol error, hence 1.3.0. On 1.2.0 a provider sends none; metering is the same.
 */
export const JOB_PROTOCOL_V1_2 = '/floe/job/1.2.0'
/**
 * 1.1.0 had no metering (`usage` statements from the provider, `voucher` promises from the
 * client): a 1.1.0 peer refuses a message type it does not know as a protocol error, hence
 * 1.2.0. A job submitted over 1.1.0 or 1.0.0 is run unmetered (see protocol/billing/metering.ts).
 */
export const JOB_PROTOCOL_V1_1 = '/floe/job/1.1.0'
/**
 * 1.0.0 had no `home-saved`: a 1.0.0 client refuses a message type it does not know as a
 * protocol error (and calls the job lost), hence 1.1.0. On a 1.0.0 stream a provider sends
 * the home as its `home saved: CID (N bytes)` system log line only.
 */
export const JOB_PROTOCOL_V1_0 = '/floe/job/1.0.0'
/** Two nodes exchange signed ledger statements and settlements (protocol/billing/statement.ts). */
export const BILLING_PROTOCOL = '/floe/billing/1.0.0'
/** Bulk DAG transfer between floe peers (protocol/transfer/dag.ts). */
export const DAG_PROTOCOL = '/floe/dag/1.0.0'
/** A project's members pull the log entries they lack (protocol/projects/project-log.ts). */
export const PROJECT_LOG_PROTOCOL = '/floe/project-log/1.0.0'
/** A workspace's terminal or forwarded port (protocol/workspaces/tunnel.ts). */
export const TUNNEL_PROTOCOL = '/floe/tunnel/1.0.0'
/** A peer dials this node back to tell whether its addresses are reachable (protocol/p2p/reach.ts). */
export const REACH_PROTOCOL = '/floe/reach/1.0.0'
/** "Which versions of OWNER/NAME did its owner publish?": signed dataset name records (protocol/datasets/name-record.ts). */
export const DATASET_NAMES_PROTOCOL = '/floe/dataset-names/1.0.0'
/** floe's own Kademlia DHT, apart from IPFS's public one: it only holds floe peers. */
export const DHT_PROTOCOL = '/floe/kad/1.0.0'

// ---- gossipsub topics -----------------------------------------------------------------------

/** Signed provider offers (protocol/market/offer.ts). */
export const OFFER_TOPIC = '/floe/offers/1.0.0'
/**
 * A project's announce topic is this prefix and a digest of its genesis entry (see
 * protocol/projects/project-log.ts). `2`: topics derived from the genesis bytes, messages
 * without the project id (1 named the id in both).
 */
export const PROJECT_TOPIC_PREFIX = 'floe/project/2/'

// ---- DHT keys -------------------------------------------------------------------------------

/** The well-known DHT key (its sha2-256, as a raw CID) floe providers announce themselves under. */
export const PROVIDERS_KEY_TEXT = 'floe-providers/1'

// ---- signing and derivation domains ---------------------------------------------------------

/** Prefixed to a job request's bytes before the client signs them. */
export const JOB_REQUEST_SIGNING_DOMAIN = 'floe-job-request/1:'
/** Prefixed to a receipt's bytes before the provider signs them. */
export const RECEIPT_SIGNING_DOMAIN = 'floe-receipt/1:'
/** Prefixed to a provider's usage statement (protocol/billing/metering.ts) before it signs it. */
export const USAGE_SIGNING_DOMAIN = 'floe-usage/1:'
/** Prefixed to a client's voucher (a cumulative payment promise) before it signs it. */
export const VOUCHER_SIGNING_DOMAIN = 'floe-voucher/1:'
/** Prefixed to a node's ledger statement to a counterparty (protocol/billing/statement.ts). */
export const STATEMENT_SIGNING_DOMAIN = 'floe-statement/1:'
/** Prefixed to a settlement entry both counterparties sign. */
export const SETTLEMENT_SIGNING_DOMAIN = 'floe-settlement/1:'
/** Prefixed to a project log entry's bytes before its author signs them. */
export const ENTRY_SIGNING_DOMAIN = 'floe-project-entry/1:'
/** Prefixed to an offer's bytes before its provider signs them. */
export const OFFER_SIGNING_DOMAIN = 'floe-offer/1:'
/** Prefixed to a dataset name record (`OWNER/NAME:N → CID`) before its owner signs it. */
export const DATASET_NAME_SIGNING_DOMAIN = 'floe-dataset-name/1:'
/** Prefixed to a genesis entry's bytes to derive its project's announce topic. */
export const PROJECT_TOPIC_DOMAIN = 'floe-project-topic/2:'

// ---- ids carried in messages ----------------------------------------------------------------

/** A job's id: 16 random bytes in lowercase hex, chosen by the client when it creates the job. */
export const JOB_ID_PATTERN = /^[0-9a-f]{32}$/
export const JobId = z.string().regex(JOB_ID_PATTERN, { message: 'must be 32 hex digits' })
export type JobId = z.infer<typeof JobId>

/**
 * A Docker image id (the sha2-256 digest of its config), as `docker inspect` and `docker
 * load` name it; the same shape names a layer's diff id.
 */
export const IMAGE_ID_PATTERN = /^sha256:[0-9a-f]{64}$/
export const ImageId = z.string().regex(IMAGE_ID_PATTERN, { message: 'must be sha256: and 64 hex digits' })
export type ImageId = z.infer<typeof ImageId>

/** A libp2p peer id in its string form (base58btc or a CID); checked as a string only, parsed where used. */
export const PeerIdString = z.string().min(1).max(128)
/** A CID in its string form; checked as a string only, parsed where used. */
export const CidString = z.string().min(1).max(256)
