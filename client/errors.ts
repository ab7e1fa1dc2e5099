/** No daemon answers for the home the CLI was pointed at. */
export class DaemonNotRunningError extends Error {
  override name = 'DaemonNotRunningError'
}

/**
 * The daemon answered with an error. `name` is the daemon's error name (branch on it),
 * `status` the HTTP status.
 */
export class ApiError extends Error {
  readonly status: number

  constructor (name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.status = status
  }
}
