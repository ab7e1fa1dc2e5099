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
