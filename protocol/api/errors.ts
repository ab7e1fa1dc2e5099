import { z } from 'zod'

/** The body of every non-2xx answer of the HTTP API. */
export const ApiErrorBody = z.object({
  error: z.object({
    name: z.string(),
    message: z.string()
  })
})
export type ApiErrorBody = z.infer<typeof ApiErrorBody>

/**
 * Error name → HTTP status, the one place where it is decided, for every named error class
 * in daemon/ and protocol/: test/unit/protocol/api-errors.test.ts reads every class declared
 * there and fails on one whose name is missing here (or on a name here no class has), so a
 * new error class cannot reach the API as an unplanned 500. A 500 here is a decision: the
 * fault is the node's own (its files, its configuration), not the request's.
 */
export const STATUS_BY_ERROR_NAME = {
  // the request itself
  InvalidRequestError: 400,
  RequestAbortedError: 400,
  InvalidSettingError: 400,
  InvalidRequirementError: 400,
  ShellWordsError: 400,
  InvalidMultiaddrError: 400,
  InvalidDatasetNameError: 400,
  InvalidRefError: 400,
  ContentPathError: 400,
  UploadPathError: 400,
  UploadAbortedError: 400,
  UploadNotFoundError: 404,
  UploadConflictError: 409,
  TooManyUploadsError: 429,
  InvalidJobError: 400,
  /** a floe.yml / floyd.yml that does not parse (its message names the line) */
  RunConfigError: 400,
  InvalidBillingRequestError: 400,
  InvalidMeteringDocError: 400,
  /** the job's worst case passes what its budgets leave */
  BudgetExceededError: 402,
  UnknownEnvironmentError: 400,
  InvalidEnvironmentError: 400,
  NotAnImageError: 422,
  EnvironmentNotFoundError: 404,
  EnvironmentDiskError: 507,
  ImageEngineError: 502,
  CorruptCarError: 400,
  InvalidProjectRequestError: 400,
  InvalidEntryError: 400,
  EntryRefusedError: 400,
  AmbiguousProjectError: 400,
  /** a ref that names both a dataset version and a job */
  AmbiguousRefError: 400,
  /** OWNER in OWNER/NAME is no peer id and no name known here */
  UnknownOwnerError: 400,
  // who asks, from where
  UnauthorizedError: 401,
  ForbiddenHostError: 403,
  ForbiddenOriginError: 403,
  ProjectPermissionError: 403,
  /** a peer offered a project without showing this node was added to it */
  NotInvitedError: 403,
  /** the peer holding the content will not serve it to this node */
  NotEntitledError: 403,
  // what is not there, or not in a state for it
  RouteNotFoundError: 404,
  DatasetNotFoundError: 404,
  /** neither the owner of OWNER/NAME nor a connected peer had the name */
  NameNotResolvedError: 404,
  /** a version of a shared name already names other content here */
  NameConflictError: 409,
  /** not held here, and no connected peer could send it: not found where this node can look */
  ContentUnavailableError: 404,
  JobNotFoundError: 404,
  ProjectNotFoundError: 404,
  MissingBlockError: 404,
  FileChangedError: 409,
  JobStateError: 409,
  WorkspaceStateError: 409,
  WorkspaceExistsError: 409,
  WorkspaceNameError: 400,
  WorkspaceGitError: 422,
  NotebookUnavailableError: 409,
  NotebookStartingError: 409,
  PortInUseError: 409,
  NoProviderError: 409,
  /** another daemon holds this home */
  HomeLockedError: 409,
  // content this node will not take
  UnsafeContentError: 422,
  ContentTooLargeError: 413,
  BlockTooLargeError: 413,
  UnsupportedCodecError: 422,
  UnsupportedHashError: 422,
  // a peer, or the Docker engine, failed or misbehaved
  DialError: 502,
  RelayLimitedError: 502,
  ProjectSyncError: 502,
  /** the peer could not be reached for a statement or settlement, or refused it */
  StatementExchangeError: 502,
  BillingProtocolError: 502,
  CorruptBlockError: 502,
  UnexpectedBlockError: 502,
  InvalidBlockError: 502,
  TransferIncompleteError: 502,
  InvalidDagRequestError: 502,
  DagProtocolError: 502,
  /** a peer answered a dataset-name request with a forged, malformed or oversized record */
  NameRecordError: 502,
  DagRemoteError: 502,
  JobProtocolError: 502,
  InvalidReceiptError: 502,
  OfferRejectedError: 502,
  SyncProtocolError: 502,
  TunnelProtocolError: 502,
  ExecutorError: 502,
  ForwardHostError: 503,
  /** the peer serves as many transfers as it allows; ask again later */
  DagBusyError: 503,
  JobServerBusyError: 503,
  DialTimeoutError: 504,
  TransferTimeoutError: 504,
  StoreFullError: 507,
  // this node's own files and configuration
  ConfigError: 500,
  HomeFileError: 500,
  DiskStatError: 500,
  JobDiskError: 500
} as const satisfies Readonly<Record<string, number>>

/** Every error name the HTTP API answers with a planned status. */
export type ApiErrorName = keyof typeof STATUS_BY_ERROR_NAME

/** The status for an error name; 500 for a name not in the table (a fault, not an answer). */
export function httpStatusForError (name: string): number {
  return Object.hasOwn(STATUS_BY_ERROR_NAME, name) ? STATUS_BY_ERROR_NAME[name as ApiErrorName] : 500
}

/** Raised by the server when a request fails its route's schema. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError'
}
