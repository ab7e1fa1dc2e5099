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
 * Error name → HTTP status, the one place where it is decided. Names not listed here are
 * internal faults (500). Each area's error classes set `name` to one of these strings.
 */
const STATUS_BY_ERROR_NAME: Readonly<Record<string, number>> = {
  InvalidRequestError: 400,
  RequestAbortedError: 400,
  InvalidSettingError: 400,
  InvalidRequirementError: 400,
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
  UnauthorizedError: 401,
  ForbiddenHostError: 403,
  ForbiddenOriginError: 403,
  RouteNotFoundError: 404,
  DatasetNotFoundError: 404,
  /** not held here, and no connected peer could send it: not found where this node can look */
  ContentUnavailableError: 404,
  JobNotFoundError: 404,
  ProjectNotFoundError: 404,
  ProjectPermissionError: 403,
  MissingBlockError: 404,
  FileChangedError: 409,
  JobStateError: 409,
  WorkspaceStateError: 409,
  PortInUseError: 409,
  ForwardHostError: 503,
  NoProviderError: 409,
  UnsafeContentError: 422,
  ContentTooLargeError: 413,
  UnsupportedCodecError: 422,
  UnsupportedHashError: 422,
  DialError: 502,
  ProjectSyncError: 502,
  CorruptBlockError: 502,
  UnexpectedBlockError: 502,
  TransferIncompleteError: 502,
  DialTimeoutError: 504,
  TransferTimeoutError: 504,
  StoreFullError: 507
}

export function httpStatusForError (name: string): number {
  return STATUS_BY_ERROR_NAME[name] ?? 500
}

/** Raised by the server when a request fails its route's schema. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError'
}
