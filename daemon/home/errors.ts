export class HomeLockedError extends Error {
  override name = 'HomeLockedError'
}

export class HomeFileError extends Error {
  override name = 'HomeFileError'
}
