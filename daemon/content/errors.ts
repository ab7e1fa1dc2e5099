export { ContentPathError } from '../store/errors.js'

/** A file changed size or mtime while it was being imported. */
export class FileChangedError extends Error {
  override name = 'FileChangedError'
}

export class UnsafeContentError extends Error {
  override name = 'UnsafeContentError'
}

/** Content larger than the budget of the place it is written to (bytes or entries). */
export class ContentTooLargeError extends Error {
  override name = 'ContentTooLargeError'
}

/**
 * Content not held here that no connected peer could send (none connected, none had it, or
 * none answered in time): `requireDag`'s answer when it cannot make a DAG whole.
 */
export class ContentUnavailableError extends Error {
  override name = 'ContentUnavailableError'
}
