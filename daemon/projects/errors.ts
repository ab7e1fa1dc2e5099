/** No project by that name or id on this node. */
export class ProjectNotFoundError extends Error {
  override name = 'ProjectNotFoundError'
}

/** A name that matches more than one project: the message lists them by id. */
export class AmbiguousProjectError extends Error {
  override name = 'AmbiguousProjectError'
}

/** This node may not do that in the project (not a member, not the owner). */
export class ProjectPermissionError extends Error {
  override name = 'ProjectPermissionError'
}

/** A bad project request: a bad name, a member already added, a peer id that is not one. */
export class InvalidProjectRequestError extends Error {
  override name = 'InvalidProjectRequestError'
}

/**
 * An entry the log refuses: its signature, its author, its links or its clock do not check
 * out. The log as it was stays as it was.
 */
export class EntryRefusedError extends Error {
  override name = 'EntryRefusedError'
}

/** Pulling a project's log from its members failed (each member's reason in the message). */
export class ProjectSyncError extends Error {
  override name = 'ProjectSyncError'
}

/** A peer offered a project without showing that its owner added this node to it. */
export class NotInvitedError extends Error {
  override name = 'NotInvitedError'
}
