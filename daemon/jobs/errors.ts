/** A job request that cannot run as given: no command, a bad mount, an unknown ref. */
export class InvalidJobError extends Error {
  override name = 'InvalidJobError'
}

export class UnknownEnvironmentError extends Error {
  override name = 'UnknownEnvironmentError'
}

/** No live offer fits the job (the message says which requirement rules each one out). */
export class NoProviderError extends Error {
  override name = 'NoProviderError'
}

export class JobNotFoundError extends Error {
  override name = 'JobNotFoundError'
}

/** The job is not in a state that allows it (no output yet, already finished, …). */
export class JobStateError extends Error {
  override name = 'JobStateError'
}
