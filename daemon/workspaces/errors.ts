/** The workspace cannot do that in its state (stopped, lost, not running yet, not a workspace). */
export class WorkspaceStateError extends Error {
  override name = 'WorkspaceStateError'
}

/** The local port asked for is taken. */
export class PortInUseError extends Error {
  override name = 'PortInUseError'
}

/** The loopback address forwarded ports listen on is missing (macOS has only 127.0.0.1 unless told). */
export class ForwardHostError extends Error {
  override name = 'ForwardHostError'
}

/** The name cannot name a workspace (protocol/workspaces/identity.ts). */
export class WorkspaceNameError extends Error {
  override name = 'WorkspaceNameError'
}

/** The project has a workspace of that name already: a start of it is a restart. */
export class WorkspaceExistsError extends Error {
  override name = 'WorkspaceExistsError'
}

/** `--git`: the repository could not be cloned (unreachable, no such ref, git missing). */
export class WorkspaceGitError extends Error {
  override name = 'WorkspaceGitError'
}

/** A workspace's notebook cannot be opened: started without one, no Jupyter in its environment, or not answering yet. */
export class NotebookUnavailableError extends Error {
  override name = 'NotebookUnavailableError'
}

/** A Jupyter workspace's notebook does not answer yet: it is starting (or has failed: its log says). */
export class NotebookStartingError extends Error {
  override name = 'NotebookStartingError'
}
