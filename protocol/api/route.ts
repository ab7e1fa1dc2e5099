import type { z } from 'zod'

export type HttpMethod = 'GET' | 'POST' | 'DELETE'

/**
 * One HTTP API route, declared once and used by the daemon's server (to validate what it
 * receives and what it answers) and by the typed client (to build requests and check replies).
 * GET and DELETE take their input from the query string, POST from a JSON body.
 */
export interface RouteDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  method: HttpMethod
  path: string
  summary: string
  input: I
  output: O
}

export function defineRoute<I extends z.ZodType, O extends z.ZodType> (def: RouteDef<I, O>): RouteDef<I, O> {
  return def
}

export type RouteInput<R extends RouteDef> = z.input<R['input']>
export type RouteOutput<R extends RouteDef> = z.output<R['output']>
