/** A Docker operation on a job's container failed, or a plan was refused before reaching Docker. */
export class ExecutorError extends Error {
  override name = 'ExecutorError'
}

/** The HTTP status of a failed Docker API call, when the engine answered. */
export function dockerStatus (err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' ? status : undefined
}

/**
 * Docker's own explanation on one line. docker-modem wraps it as `(HTTP code 404) no such
 * container - No such image: x ` and keeps the engine's JSON body, whose `message` reads better.
 */
export function dockerMessage (err: unknown): string {
  const body = (err as { json?: { message?: unknown } } | null)?.json
  const text = typeof body?.message === 'string' ? body.message : err instanceof Error ? err.message : String(err)
  return text.split('\n').map(line => line.trim()).filter(line => line !== '').join(' ')
}

/** A job's own disk could not be made, mounted or removed. */
export class JobDiskError extends Error {
  override name = 'JobDiskError'
}
