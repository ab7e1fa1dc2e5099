import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

/** A raw HTTP request, so the test controls every header (fetch will not send a foreign Host). */
async function raw (url: string, headers: Record<string, string>, options: { method?: string, body?: string } = {}): Promise<{ status: number, body: any }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers }, res => {
      let text = ''
      res.on('data', chunk => { text += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

describe('HTTP API access checks', () => {
  const r = resources()
  let d: RunningDaemon
  let idUrl: string
  let host: string
  beforeAll(async () => {
    d = r.daemon(await startDaemon(r.folder(await tempHome())))
    idUrl = `${d.endpoint.url}/api/v1/id`
    host = new URL(d.endpoint.url).host
  })
  afterAll(async () => { await r.cleanup() })

  it('answers 200 with the token', async () => {
    const res = await raw(idUrl, { authorization: `Bearer ${d.token}` })
    expect(res.status).toBe(200)
    expect(res.body.peerId).toBe(d.endpoint.peerId)
  })

  it('answers 401 without a token and with a wrong one', async () => {
    const none = await raw(idUrl, {})
    expect(none.status).toBe(401)
    expect(none.body.error.name).toBe('UnauthorizedError')
    expect(none.body.error.message).toMatch(/^missing bearer token/)
    const wrong = await raw(idUrl, { authorization: `Bearer ${d.token.slice(0, -2)}xx` })
    expect(wrong.status).toBe(401)
    expect(wrong.body.error.message).toMatch(/^wrong bearer token/)
  })

  it('answers 403 to a foreign Host header (DNS rebinding), even with the token', async () => {
    const res = await raw(idUrl, { authorization: `Bearer ${d.token}`, host: `attacker.example:${new URL(d.endpoint.url).port}` })
    expect(res.status).toBe(403)
    expect(res.body.error.name).toBe('ForbiddenHostError')
  })

  it('answers 403 to a foreign Origin, even with the token, and accepts its own origin', async () => {
    for (const origin of ['https://attacker.example', 'http://127.0.0.1:1', 'null']) {
      const res = await raw(idUrl, { authorization: `Bearer ${d.token}`, origin })
      expect(res.status, origin).toBe(403)
      expect(res.body.error.name, origin).toBe('ForbiddenOriginError')
    }
    const own = await raw(idUrl, { authorization: `Bearer ${d.token}`, origin: d.endpoint.url })
    expect(own.status).toBe(200)
  })

  it('checks access before routing: an unknown path without the token is 401, with it a JSON 404', async () => {
    expect((await raw(`${d.endpoint.url}/api/v1/nope`, {})).status).toBe(401)
    expect((await raw(`${d.endpoint.url}/api/v1/nope`, { host: 'evil.example' })).status).toBe(403)
    const missing = await raw(`${d.endpoint.url}/api/v1/nope`, { authorization: `Bearer ${d.token}`, host })
    expect(missing).toEqual({ status: 404, body: { error: { name: 'RouteNotFoundError', message: 'no route GET /api/v1/nope' } } })
  })

  it('answers 400 with the reason for a malformed body or multiaddr', async () => {
    const headers = { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }
    const url = `${d.endpoint.url}/api/v1/peers/connect`
    const notJson = await raw(url, headers, { method: 'POST', body: '{"addr":' })
    expect(notJson).toEqual({ status: 400, body: { error: { name: 'InvalidRequestError', message: 'the request body is not valid JSON' } } })
    const wrongShape = await raw(url, headers, { method: 'POST', body: '{"address":"x"}' })
    expect(wrongShape.status).toBe(400)
    expect(wrongShape.body.error.name).toBe('InvalidRequestError')
    const badAddr = await raw(url, headers, { method: 'POST', body: '{"addr":"/ip4/999.1.1.1/tcp/1"}' })
    expect(badAddr.status).toBe(400)
    expect(badAddr.body.error.name).toBe('InvalidMultiaddrError')
    const huge = await raw(url, headers, { method: 'POST', body: JSON.stringify({ addr: 'x'.repeat(2 * 1024 * 1024) }) })
    expect(huge.status).toBe(400)
    expect(huge.body.error.message).toMatch(/larger than/)
  })
})
