/** The workspace cannot do that in its state (stopped, lost, not running yet, not a workspace). */
export class WorkspaceStateError extends Error {
  override name = 'WorkspaceStateError'
}

/** The local port asked for is taken. */
export class PortInUseError extends Error {
  override name = 'PortInUseError'
}
