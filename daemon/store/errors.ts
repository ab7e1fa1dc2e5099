export class StoreFullError extends Error {
  override name = 'StoreFullError'
}

export class CorruptCarError extends Error {
  override name = 'CorruptCarError'
}

/**
 * A path on this machine that cannot be used (missing, taken, unreadable). Defined here, the
 * lowest layer that raises it (CAR files); `content/` re-exports it for imports and exports.
 */
export class ContentPathError extends Error {
  override name = 'ContentPathError'
}
