export class InvalidMultiaddrError extends Error {
  override name = 'InvalidMultiaddrError'
}

export class DialError extends Error {
  override name = 'DialError'
}

export class DialTimeoutError extends Error {
  override name = 'DialTimeoutError'
}
