import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { Hono } from 'hono'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApiApp } from '../../../../daemon/api/index.js'
import { uiHandlers, uiRawRoutes, type UiComponents } from '../../../../daemon/api/ui-handlers.js'
import { pickEncoding } from '../../../../daemon/api/webui-static.js'
import { RAW_PATHS } from '../../../../protocol/api/ui-routes.js'
import type { LogLine } from '../../../../protocol/jobs/job.js'

const TOKEN = 'a'.repeat(43)
let root: string
const script = `console.log(${JSON.stringify('floe '.repeat(2000))})\n`
const page = `<!doctype html><html><head><title>floe</title><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div>${' '.repeat(400)}</body></html>`

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'floe-webui-'))
  await mkdir(join(root, 'assets'))
  await writeFile(join(root, 'index.html'), page)
  await writeFile(join(root, 'assets', 'index-abc123.js'), script)
  await writeFile(join(tmpdir(), 'floe-secret.txt'), 'not for the browser')
})
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

const app = (): ReturnType<typeof buildApiApp> => buildApiApp({ token: TOKEN, port: () => 7460, log: pino({ level: 'silent' }), webuiRoot: root, handlers: {} as any })
const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => await app().request(`http://127.0.0.1:7460${path}`, { headers })

describe('the web UI files', () => {
  it('sends hashed assets compressed (brotli, else gzip, else plain), cached for good, the same bytes each way', async () => {
    const br = await get('/assets/index-abc123.js', { 'accept-encoding': 'gzip, deflate, br' })
    expect(br.status).toBe(200)
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(br.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(br.headers.get('vary')).toBe('Accept-Encoding')
    const brBytes = Buffer.from(await br.arrayBuffer())
    expect(brBytes.length).toBeLessThan(script.length / 10)
    expect(brotliDecompressSync(brBytes).toString()).toBe(script)

    const gz = await get('/assets/index-abc123.js', { 'accept-encoding': 'gzip' })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(gunzipSync(Buffer.from(await gz.arrayBuffer())).toString()).toBe(script)

    const plain = await get('/assets/index-abc123.js', { 'accept-encoding': 'br;q=0, gzip;q=0' })
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(script)
  })

  it('revalidates index.html (no-cache, ETag, 304) and serves it for the app paths, not for missing assets', async () => {
    const first = await get('/', { 'accept-encoding': 'gzip' })
    expect(first.headers.get('cache-control')).toBe('no-cache')
    const etag = first.headers.get('etag') as string
    expect(etag).toMatch(/^".+"$/)
    expect(gunzipSync(Buffer.from(await first.arrayBuffer())).toString()).toBe(page)
    const again = await get('/', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')

    const appPath = await get('/jobs/default%2F3')
    expect(appPath.status).toBe(200)
    expect(appPath.headers.get('cache-control')).toBe('no-cache')
    expect(await appPath.text()).toBe(page)

    const missing = await get('/assets/index-gone.js')
    expect(missing.status).toBe(404)
    expect(await missing.text()).not.toContain('<!doctype')
  })

  it('never serves a file outside its folder', async () => {
    for (const path of ['/../floe-secret.txt', '/%2e%2e/floe-secret.txt', '/assets/..%2f..%2ffloe-secret.txt', '/%2e%2e%5cfloe-secret.txt']) {
      const res = await get(path)
      expect(await res.text(), path).not.toContain('not for the browser')
    }
  })

  it('picks the encoding the request accepts', () => {
    expect(pickEncoding('gzip, deflate, br, zstd')).toBe('br')
    expect(pickEncoding('gzip;q=1.0, br;q=0')).toBe('gzip')
    expect(pickEncoding('*')).toBe('br')
    expect(pickEncoding('identity')).toBeNull()
    expect(pickEncoding(undefined)).toBeNull()
  })
})

describe("a job's log, searched and downloaded whole", () => {
  const lines: LogLine[] = Array.from({ length: 10_000 }, (_, i) => ({ seq: i + 1, stream: i % 10 === 0 ? 'stderr' : 'stdout', line: `line ${i + 1}${(i + 1) % 1000 === 0 ? ' NEEDLE' : ''}`, at: 1_700_000_000_000 + i }))
  let reads = 0
  const jobLogs: UiComponents['jobLogs'] = async (ref, { after, onLine }) => {
    if (ref !== 'default/7') throw Object.assign(new Error(`no job ${ref}`), { name: 'JobNotFoundError' })
    reads++
    for (const line of lines) {
      if (line.seq > after) onLine(line)
      // stands for the store's async reads
      if (line.seq % 500 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    return {}
  }
  const ui = { jobLogs } as unknown as UiComponents
  const search = uiHandlers(ui).jobLogSearch

  it('finds matches over the whole log, case-insensitive, a bounded page at a time with a cursor', async () => {
    const first = await search({ ref: 'default/7', query: 'needle', after: 0, limit: 4 }, { signal: new AbortController().signal, progress: () => {} })
    expect(first.matches.map(l => l.seq)).toEqual([1000, 2000, 3000, 4000])
    expect(first.next).toBe(4000)
    expect(first.scanned).toBe(4000)
    const rest = await search({ ref: 'default/7', query: 'NEEDLE', after: first.next ?? 0, limit: 100 }, { signal: new AbortController().signal, progress: () => {} })
    expect(rest.matches.map(l => l.seq)).toEqual([5000, 6000, 7000, 8000, 9000, 10000])
    expect(rest.next).toBeNull()
    expect(rest.scanned).toBe(6000)
    await expect(search({ ref: 'default/99', query: 'x', after: 0, limit: 1 }, { signal: new AbortController().signal, progress: () => {} })).rejects.toThrow('no job default/99')
  })

  it('downloads every line as text, named for the job', async () => {
    const server = new Hono()
    uiRawRoutes(ui)(server)
    server.onError((err, c) => c.json({ error: { name: err.name, message: err.message } }, 404))
    const res = await server.request(`${RAW_PATHS.jobLogText}?ref=default%2F7`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''default-7.log")
    const text = await res.text()
    expect(text).toBe(lines.map(l => `${l.line}\n`).join(''))
    const unknown = await server.request(`${RAW_PATHS.jobLogText}?ref=default%2F99`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: { name: 'JobNotFoundError', message: 'no job default/99' } })
    expect(reads).toBeGreaterThan(0)
  })

  it('gives the log to no one without the token or a session', async () => {
    const guarded = buildApiApp({ token: TOKEN, port: () => 7460, log: pino({ level: 'silent' }), handlers: {} as any, raw: uiRawRoutes(ui) })
    const anonymous = await guarded.request(`http://127.0.0.1:7460${RAW_PATHS.jobLogText}?ref=default%2F7`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.text()).not.toContain('line 1')
    const signed = await guarded.request(`http://127.0.0.1:7460${RAW_PATHS.jobLogText}?ref=default%2F7`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(signed.status).toBe(200)
    expect((await signed.text()).startsWith('line 1\n')).toBe(true)
  })
})
