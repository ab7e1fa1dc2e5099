export { ContentPathError } from '../store/errors.js'

/** A file changed size or mtime while it was being imported. */
export class FileChangedError extends Error {
  override name = 'FileChangedError'
}

export class ContentNotFoundError extends Error {
  override name = 'ContentNotFoundError'
}

export class UnsafeContentError extends Error {
  override name = 'UnsafeContentError'
}

/** Content larger than the budget of the place it is written to (bytes or entries). */
export class ContentTooLargeError extends Error {
  override name = 'ContentTooLargeError'
}
