import { createRequire } from 'node:module'
import type { RequestOptions } from 'node:http'
import type { ApiFetch, ApiResponse } from './api-client.js'

// Required, not imported: an ES import of node:http reads every export, and its lazy
// WebSocket ones load undici, the very cost this file avoids.
const { request } = createRequire(import.meta.url)('node:http') as typeof import('node:http')

/**
 * The API client's fetch for the CLI, over node:http: Node's own fetch (undici) takes ~28 ms
 * to load, a tenth of a short command. It does what the client needs: http URLs on loopback,
 * a string body, plain headers, an abort signal; the body is the response stream itself.
 * `options` go to node:http as they are (a bench reaches daemons in other network namespaces
 * through its own `createConnection`).
 */
export function httpFetch (options: RequestOptions = {}): ApiFetch {
  return async (url, init) => await new Promise<ApiResponse>((resolve, reject) => {
    const req = request(url, { ...options, method: init.method, headers: init.headers, ...(init.signal != null ? { signal: init.signal } : {}) }, res => {
      const status = res.statusCode ?? 0
      const text = async (): Promise<string> => {
        const chunks: Buffer[] = []
        for await (const chunk of res) chunks.push(chunk as Buffer)
        return Buffer.concat(chunks).toString('utf8')
      }
      resolve({ ok: status >= 200 && status < 300, status, body: res, text, json: async () => JSON.parse(await text()) })
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

export const nodeFetch: ApiFetch = httpFetch()
