import type { z } from 'zod'

export type HttpMethod = 'GET' | 'POST' | 'DELETE'

/**
 * One HTTP API route, declared once and used by the daemon's server (to validate what it
 * receives and what it answers) and by the typed client (to build requests and check replies).
 * GET and DELETE take their input from the query string, POST from a JSON body.
 *
 * A route with `progress` is long-running: it answers NDJSON (`application/x-ndjson`), zero
 * or more `{"progress": …}` lines, then one `{"result": …}` line or one
 * `{"error": {"name", "message"}}` line.
 */
export interface RouteDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, P extends z.ZodType | undefined = z.ZodType | undefined> {
  method: HttpMethod
  path: string
  summary: string
  input: I
  output: O
  progress?: P
  /** every progress event is sent (log lines), instead of at most one per 100 ms */
  everyEvent?: boolean
}

export function defineRoute<I extends z.ZodType, O extends z.ZodType, P extends z.ZodType | undefined = undefined> (def: RouteDef<I, O, P>): RouteDef<I, O, P> {
  return def
}

export type RouteProgress<R extends RouteDef> = NonNullable<R['progress']> extends z.ZodType ? z.output<NonNullable<R['progress']>> : never

export const NDJSON = 'application/x-ndjson'
