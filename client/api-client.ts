import type { z } from 'zod'
import { ApiErrorBody } from '../protocol/api/errors.js'
import type { RouteDef } from '../protocol/api/route.js'
import { routes, type RouteName, type Routes } from '../protocol/api/routes.js'
import { ApiError, DaemonNotRunningError } from './errors.js'

/**
 * The typed client of the daemon's HTTP API, shared by the CLI and the web UI: it speaks
 * only through the route table in protocol/, so it has no Node-only imports.
 */
export interface ApiClient {
  readonly url: string
  call<K extends RouteName>(name: K, input: z.input<Routes[K]['input']>, options?: { signal?: AbortSignal }): Promise<z.output<Routes[K]['output']>>
}

export interface ApiClientOptions {
  url: string
  /** omitted in the browser, where the session cookie authenticates */
  token?: string
  fetch?: typeof fetch
}

function requestFor (route: RouteDef, baseUrl: string, input: unknown): { url: string, init: RequestInit } {
  const url = new URL(route.path, baseUrl)
  if (route.method === 'POST') {
    return { url: url.toString(), init: { method: route.method, body: JSON.stringify(input), headers: { 'content-type': 'application/json' } } }
  }
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value != null) url.searchParams.set(key, String(value))
  }
  return { url: url.toString(), init: { method: route.method } }
}

async function errorFrom (response: Response): Promise<ApiError> {
  const text = await response.text()
  try {
    const body = ApiErrorBody.parse(JSON.parse(text))
    return new ApiError(body.error.name, body.error.message, response.status)
  } catch {
    return new ApiError('HttpError', `the daemon answered HTTP ${response.status}: ${text.slice(0, 200)}`, response.status)
  }
}

export function createApiClient (options: ApiClientOptions): ApiClient {
  const doFetch = options.fetch ?? fetch
  return {
    url: options.url,
    async call (name, input, callOptions = {}) {
      const route: RouteDef = routes[name]
      const { url, init } = requestFor(route, options.url, route.input.parse(input))
      const headers = new Headers(init.headers)
      if (options.token != null) headers.set('authorization', `Bearer ${options.token}`)
      let response: Response
      try {
        response = await doFetch(url, { ...init, headers, signal: callOptions.signal })
      } catch (err: any) {
        if (callOptions.signal?.aborted === true) throw err
        throw new DaemonNotRunningError(`no floe daemon answers at ${options.url} (${err?.cause?.code ?? err?.message ?? err})`)
      }
      if (!response.ok) throw await errorFrom(response)
      const parsed = route.output.safeParse(await response.json())
      if (!parsed.success) throw new ApiError('InvalidResponseError', `the daemon's answer to ${route.method} ${route.path} does not match its schema: ${parsed.error.message}`, response.status)
      return parsed.data as never
    }
  }
}
