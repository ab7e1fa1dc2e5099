export class UnauthorizedError extends Error {
  override name = 'UnauthorizedError'
}

export class ForbiddenHostError extends Error {
  override name = 'ForbiddenHostError'
}

export class ForbiddenOriginError extends Error {
  override name = 'ForbiddenOriginError'
}

export class RouteNotFoundError extends Error {
  override name = 'RouteNotFoundError'
}

/** The client went away (or stalled until its socket closed) before its request body arrived whole. */
export class RequestAbortedError extends Error {
  override name = 'RequestAbortedError'
}
