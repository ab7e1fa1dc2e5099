import { peerIdFromString } from '@libp2p/peer-id'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { apiHandlers, buildApiApp, isLoopbackHost } from '../../../../daemon/api/index.js'
import { createApiClient } from '../../../../client/api-client.js'
import { DEFAULT_CONFIG } from '../../../../daemon/config/index.js'

const PEER = '12D3KooWMod9ZvfZt1XkHN3zAXcy29ZBXQGjtmXuQfzQae531yju'
const TOKEN = 'a'.repeat(43)

/** The API app over an in-memory host stand-in: routing, validation and errors without sockets. */
function app (overrides: Record<string, unknown> = {}) {
  const host = {
    peerId: peerIdFromString(PEER),
    getMultiaddrs: () => [],
    getProtocols: () => ['/ipfs/id/1.0.0'],
    getConnections: () => [],
    dial: async () => { throw new Error('connection refused') },
    services: { reachability: { view: () => ({ status: 'unknown', checkedAt: null, checkedBy: [], publicAddrs: [], observedAddrs: [] }) } },
    ...overrides
  } as any
  return buildApiApp({
    token: TOKEN,
    port: () => 7460,
    log: pino({ level: 'silent' }),
    // Content operations are not reached by these tests.
    handlers: apiHandlers({ host, network: { keeper: { keep: async () => {}, known: async () => [] }, relay: DEFAULT_CONFIG.relay }, home: '/h', apiUrl: () => 'http://127.0.0.1:7460', startedAt: new Date(0), datasets: {} as any, repo: {} as any, market: {} as any, providerSettings: {} as any, detectResources: async () => { throw new Error('not reached') }, jobs: {} as any, served: () => [], discovery: {} as any, projects: {} as any, ui: {} as any, environments: {} as any, workspaces: {} as any, serving: {} as any, billing: {} as any })
  })
}

describe('API app', () => {
  it('serves the typed client end to end', async () => {
    const server = app()
    const client = createApiClient({ url: 'http://127.0.0.1:7460', token: TOKEN, fetch: async (url, init) => await server.request(url as string, init) })
    const id = await client.call('id', {})
    expect(id).toMatchObject({ peerId: PEER, home: '/h', version: '0.1.0', startedAt: new Date(0).toISOString() })
    expect(await client.call('peers', {})).toEqual({ peers: [] })
  })

  it('turns a failed dial into DialError, surfaced by the client with name and status', async () => {
    const server = app()
    const client = createApiClient({ url: 'http://127.0.0.1:7460', token: TOKEN, fetch: async (url, init) => await server.request(url as string, init) })
    await expect(client.call('connect', { addr: '/ip4/127.0.0.1/tcp/1' })).rejects.toMatchObject({
      name: 'DialError', status: 502, message: 'could not connect to /ip4/127.0.0.1/tcp/1: connection refused'
    })
    await expect(client.call('connect', { addr: `/ip4/127.0.0.1/tcp/1/p2p/${PEER}` })).rejects.toMatchObject({
      name: 'DialError', message: expect.stringMatching(/own address/)
    })
  })

  it('reports an unexpected fault as InternalError with status 500', async () => {
    const server = app({ getConnections: () => { throw new TypeError('boom') } })
    const res = await server.request('http://127.0.0.1:7460/api/v1/peers', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: { name: 'InternalError', message: 'boom' } })
  })
})

describe('isLoopbackHost', () => {
  it('accepts loopback names with or without a port, and nothing else', () => {
    for (const host of ['127.0.0.1:7460', 'localhost:1', 'LOCALHOST', '[::1]:7460', '127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ['evil.example', '127.0.0.1.evil.example:80', '10.0.0.1:7460', '[::2]:1', '', undefined]) expect(isLoopbackHost(host), String(host)).toBe(false)
  })
})
