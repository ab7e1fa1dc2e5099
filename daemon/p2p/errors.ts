export class InvalidMultiaddrError extends Error {
  override name = 'InvalidMultiaddrError'
}

export class DialError extends Error {
  override name = 'DialError'
}

export class DialTimeoutError extends Error {
  override name = 'DialTimeoutError'
}

/** Bulk content would have to cross a relay that limits what it carries: it waits for a direct path. */
export class RelayLimitedError extends Error {
  override name = 'RelayLimitedError'
}
