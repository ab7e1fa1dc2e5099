import type { z } from 'zod'
import { ApiErrorBody, httpStatusForError } from '../protocol/api/errors.js'
import { describeIssues, invalidRequestMessage } from '../protocol/api/invalid-input.js'
import type { RouteDef, RouteProgress } from '../protocol/api/route.js'
import { routes, type RouteName, type Routes } from '../protocol/api/routes.js'
import { ApiError, DaemonNotRunningError } from './errors.js'

/**
 * The typed client of the daemon's HTTP API, shared by the CLI and the web UI: it speaks
 * only through the route table in protocol/, so it has no Node-only imports.
 */
export interface ApiClient {
  readonly url: string
  /** the bearer token, when not in a browser (a terminal's WebSocket sends it too) */
  readonly token?: string
  call<K extends RouteName>(name: K, input: z.input<Routes[K]['input']>, options?: CallOptions<RouteProgress<Routes[K]>>): Promise<z.output<Routes[K]['output']>>
}

export interface CallOptions<P = never> {
  signal?: AbortSignal
  /** for long routes: called with each progress event the daemon sends */
  onProgress?: (event: P) => void
}

/** What the client asks of fetch: the browser's fetch is one, the CLI's node:http one another. */
export type ApiFetch = (url: string, init: ApiRequestInit) => Promise<ApiResponse>
export interface ApiRequestInit { method: string, body?: string, headers: Record<string, string>, signal?: AbortSignal }
export interface ApiResponse {
  ok: boolean
  status: number
  /** read as an async iterable of byte chunks (a ReadableStream is one in Node and browsers) */
  body: unknown
  text: () => Promise<string>
  json: () => Promise<unknown>
}

export interface ApiClientOptions {
  url: string
  /** omitted in the browser, where the session cookie authenticates */
  token?: string
  /** the global fetch when omitted */
  fetch?: ApiFetch
}

function requestFor (route: RouteDef, baseUrl: string, input: unknown): { url: string, init: ApiRequestInit } {
  const url = new URL(route.path, baseUrl)
  if (route.method === 'POST') {
    return { url: url.toString(), init: { method: route.method, body: JSON.stringify(input), headers: { 'content-type': 'application/json' } } }
  }
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value != null) url.searchParams.set(key, String(value))
  }
  return { url: url.toString(), init: { method: route.method, headers: {} } }
}

async function errorFrom (response: ApiResponse): Promise<ApiError> {
  const text = await response.text()
  try {
    const body = ApiErrorBody.parse(JSON.parse(text))
    return new ApiError(body.error.name, body.error.message, response.status)
  } catch {
    return new ApiError('HttpError', `the daemon answered HTTP ${response.status}: ${text.slice(0, 200)}`, response.status)
  }
}

/** Reads an NDJSON answer (see protocol/api/route.ts): progress lines, then result or error. */
async function readProgressStream (route: RouteDef, response: ApiResponse, onProgress?: (event: any) => void): Promise<unknown> {
  if (response.body == null) throw new ApiError('InvalidResponseError', 'the daemon sent an empty answer', response.status)
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.trim() === '') continue
      const message = JSON.parse(line)
      if ('progress' in message) {
        onProgress?.(route.progress?.parse(message.progress))
      } else if ('result' in message) {
        const parsed = route.output.safeParse(message.result)
        if (!parsed.success) throw new ApiError('InvalidResponseError', `the daemon's answer to ${route.method} ${route.path} does not match its schema: ${describeIssues(parsed.error.issues)}`, response.status)
        return parsed.data
      } else {
        const { error } = ApiErrorBody.parse(message)
        throw new ApiError(error.name, error.message, httpStatusForError(error.name))
      }
    }
  }
  throw new ApiError('InvalidResponseError', `the daemon's answer to ${route.method} ${route.path} ended without a result`, response.status)
}

export function createApiClient (options: ApiClientOptions): ApiClient {
  const doFetch: ApiFetch = options.fetch ?? (async (url, init) => await fetch(url, init))
  return {
    url: options.url,
    ...(options.token != null ? { token: options.token } : {}),
    async call (name, input, callOptions = {}) {
      const route: RouteDef = routes[name]
      // checked here as the daemon would: one line naming the field, never zod's dump
      const checked = route.input.safeParse(input)
      if (!checked.success) throw new ApiError('InvalidRequestError', invalidRequestMessage(checked.error), 400)
      const { url, init } = requestFor(route, options.url, checked.data)
      if (options.token != null) init.headers.authorization = `Bearer ${options.token}`
      let response: ApiResponse
      try {
        response = await doFetch(url, { ...init, ...(callOptions.signal != null ? { signal: callOptions.signal } : {}) })
      } catch (err: any) {
        if (callOptions.signal?.aborted === true) throw err
        throw new DaemonNotRunningError(`no floe daemon answers at ${options.url} (${err?.cause?.code ?? err?.code ?? err?.message ?? err})`)
      }
      if (!response.ok) throw await errorFrom(response)
      if (route.progress != null) return await readProgressStream(route, response, callOptions.onProgress as never) as never
      const parsed = route.output.safeParse(await response.json())
      if (!parsed.success) throw new ApiError('InvalidResponseError', `the daemon's answer to ${route.method} ${route.path} does not match its schema: ${describeIssues(parsed.error.issues)}`, response.status)
      return parsed.data as never
    }
  }
}
