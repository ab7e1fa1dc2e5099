export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError'
}

export class InvalidDatasetNameError extends Error {
  override name = 'InvalidDatasetNameError'
}

export class InvalidRefError extends Error {
  override name = 'InvalidRefError'
}

/** A version of a shared name already maps to other content here. */
export class NameConflictError extends Error {
  override name = 'NameConflictError'
}

/** A shared name (`OWNER/NAME:N`) could not be resolved: the owner and the peers asked do not have it, or could not be reached. */
export class NameNotResolvedError extends Error {
  override name = 'NameNotResolvedError'
}

/** `OWNER` in a shared name is not a peer id, and no peer known here goes by that name (or several do). */
export class UnknownOwnerError extends Error {
  override name = 'UnknownOwnerError'
}

/** A ref that could name two things (a dataset version and a job): the error names both spellings. */
export class AmbiguousRefError extends Error {
  override name = 'AmbiguousRefError'
}
