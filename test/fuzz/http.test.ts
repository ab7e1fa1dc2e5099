import { request } from 'node:http'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routes, type RouteName } from '../../protocol/api/routes.js'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { SHELL_PATH } from '../../protocol/api/workspace-routes.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { errorLines, fuzz, healthy, storedState } from './harness.js'

/**
 * The HTTP API under generated requests: any method on the daemon's own paths and on made-up
 * ones, generated query strings, headers and bodies (JSON, text, bytes, 2 MiB, a length that
 * lies), with and without the token. The daemon must answer each with a status that is not
 * an internal fault (500), keep answering `floe id` within 2 s in its memory budget, log no
 * error, and keep the datasets and projects it stores.
 */
const r = resources()
let d: RunningDaemon
let before: unknown
beforeAll(async () => {
  d = r.daemon(await startDaemon(r.folder(await tempHome())))
  const data = r.folder(await mkdtemp(join(tmpdir(), 'floe-fuzz-data-')))
  await writeFile(join(data, 'a.txt'), 'alpha\n')
  await floeJson(['data', 'upload', data, '--name', 'kept', '--home', d.home])
  // through the API: `floe init` would leave a .floeproject in the test's working folder
  const init = await fetch(`${d.endpoint.url}/api/v1/projects`, { method: 'POST', body: JSON.stringify({ name: 'fuzzed' }), headers: { authorization: `Bearer ${d.token}` } })
  expect(init.status).toBe(200)
  before = await storedState(d)
})
afterAll(async () => { await r.cleanup() })

/**
 * Routes left out: their empty input is valid and starts real work (a GC, a provider, an
 * image build, a network sync, a repair), or they read or write a host path the request
 * names. Their parsing is the same code as every other route's.
 */
const LEFT_OUT = new Set<RouteName>(['repoGc', 'providerEnable', 'providerSet', 'envBuild', 'envPublish', 'envPull', 'envRemove', 'projectSync', 'projectRepair', 'projectImport', 'projectExport', 'datasetUpload', 'datasetGet', 'datasetRemove', 'carImport', 'carExport', 'jobOutput', 'jobClone', 'connect', 'jobRun', 'workspaceStart'])
const PATHS = [
  ...(Object.entries(routes) as Array<[RouteName, { path: string }]>).filter(([name]) => !LEFT_OUT.has(name)).map(([, route]) => route.path),
  ...Object.values(RAW_PATHS), SHELL_PATH, '/', '/index.html', '/api', '/api/v1', '/api/v2/id'
]
const ODD_VALUES = ['.', './', '..', '../..', '/', '/etc/passwd', 'a/..', '%00', '\u0000', '-1', '1e309', 'NaN', '[]', '{}', 'null', 'x'.repeat(5000), 'bafkqaaa', '0'.repeat(32)]
const printable = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c)), maxLength })
const HUGE = Buffer.alloc(2 * 1024 * 1024, 0x7b)

const requests = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  path: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.webPath() }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map(s => `/api/v1/${encodeURIComponent(s)}`) }),
  query: fc.dictionary(fc.oneof(fc.constantFrom('id', 'path', 'cid', 'ref', 'name', 'token', 'download', 'limit'), printable(10)), fc.oneof(fc.constantFrom(...ODD_VALUES), fc.string({ maxLength: 40 })), { maxKeys: 4 }),
  headers: fc.dictionary(fc.constantFrom('content-type', 'accept', 'cookie', 'origin', 'range', 'x-forwarded-for', 'if-none-match', 'accept-encoding'), printable(60), { maxKeys: 3 }),
  body: fc.oneof(
    fc.constant(undefined),
    fc.json({ maxDepth: 3 }),
    fc.jsonValue({ maxDepth: 2 }).map(value => JSON.stringify({ ref: value, path: value, cid: value, id: value, name: value })),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 4096 }).map(bytes => Buffer.from(bytes)),
    fc.constant(HUGE)
  ),
  /** one in ten: a content-length above what is sent (the daemon waits, the client gives up) */
  lies: fc.nat(9).map(n => n === 0),
  auth: fc.constantFrom('token', 'token', 'token', 'none', 'wrong', 'cookie')
})
type GeneratedRequest = typeof requests extends fc.Arbitrary<infer T> ? T : never

async function send (req: GeneratedRequest): Promise<number | 'no answer'> {
  const url = new URL(d.endpoint.url)
  const query = new URLSearchParams(req.query).toString()
  const headers: Record<string, string> = { ...req.headers }
  if (req.auth === 'token') headers.authorization = `Bearer ${d.token}`
  else if (req.auth === 'wrong') headers.authorization = 'Bearer nope'
  else if (req.auth === 'cookie') headers.cookie = 'floe_session=forged'
  const body: Buffer | undefined = req.body == null ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(String(req.body))
  if (body != null) headers['content-length'] = String(body.length + (req.lies ? 1000 : 0))
  return await new Promise(resolve => {
    const outgoing = request({ host: url.hostname, port: url.port, method: req.method, path: `${req.path}${query !== '' ? `?${query}` : ''}`, headers, timeout: req.lies && body != null ? 300 : 5_000 }, res => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', () => { resolve(res.statusCode ?? 0) })
    })
    outgoing.on('timeout', () => { outgoing.destroy() })
    // the daemon may answer (413, 404) and close before a large body is all sent
    outgoing.on('error', () => { resolve('no answer') })
    outgoing.end(body)
  })
}

describe('fuzzing the HTTP API', () => {
  it('answers generated requests without an internal fault, and keeps serving and storing', async () => {
    const faults: string[] = []
    let sent = 0
    await fuzz('http', requests, async req => {
      sent++
      const status = await send(req)
      if (status === 500) faults.push(`${req.method} ${req.path} ${JSON.stringify(req.query)}`)
      await healthy(d)
    }, { runs: 400, ms: 15_000 })
    console.info(`http fuzz: ${sent} requests`)
    expect(faults).toEqual([])
    expect(await storedState(d)).toEqual(before)
    expect(errorLines(d)).toEqual([])
    const id = await floe(['id', '--home', d.home])
    expect(id.code, id.stderr).toBe(0)
  }, 60_000)
})
