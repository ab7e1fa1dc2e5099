import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'
import type { Context, Hono } from 'hono'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2'
}
/** types worth compressing (images and fonts are compressed already) */
const TEXT = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt'])

/** Vite names the files under assets/ by their content's hash: they never change under a name. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'
/** index.html names the current hashed files: asked again each time (a 304 while unchanged). */
export const REVALIDATE = 'no-cache'

interface Prepared { etag: string, type: string, identity: Buffer, gzip?: Buffer, br?: Buffer }

/** The encoding to send: brotli, else gzip, as the request accepts (q=0 refuses). */
export function pickEncoding (accept: string | undefined): 'br' | 'gzip' | null {
  const accepted = new Map<string, number>()
  for (const part of (accept ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (name == null || name === '') continue
    const q = params.map(p => p.trim()).find(p => p.startsWith('q='))
    accepted.set(name, q == null ? 1 : Number(q.slice(2)))
  }
  const ok = (name: string): boolean => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0
  return ok('br') ? 'br' : ok('gzip') ? 'gzip' : null
}

/**
 * Serves the built web UI from `root`: its files, and index.html for the app's own paths
 * (/projects/…, /jobs/…). Text files go out brotli- or gzip-compressed (compressed once, on
 * first request, and kept while the file is unchanged), hashed assets are cached for good,
 * index.html is revalidated (ETag, 304).
 */
export function serveWebui (app: Hono, root: string): void {
  const cache = new Map<string, { mtimeMs: number, size: number, prepared: Prepared }>()

  const prepare = async (file: string): Promise<Prepared | null> => {
    const info = await stat(file).catch(() => null)
    if (info == null || !info.isFile()) return null
    const held = cache.get(file)
    if (held != null && held.mtimeMs === info.mtimeMs && held.size === info.size) return held.prepared
    const identity = await readFile(file)
    const ext = extname(file).toLowerCase()
    const prepared: Prepared = {
      etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 27)}"`,
      type: TYPES[ext] ?? 'application/octet-stream',
      identity
    }
    if (TEXT.has(ext) && identity.length > 256) {
      prepared.gzip = gzipSync(identity, { level: 9 })
      prepared.br = brotliCompressSync(identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } })
    }
    cache.set(file, { mtimeMs: info.mtimeMs, size: info.size, prepared })
    return prepared
  }

  const send = (c: Context, prepared: Prepared, cacheControl: string): Response => {
    const headers: Record<string, string> = { 'content-type': prepared.type, 'cache-control': cacheControl, etag: prepared.etag, vary: 'Accept-Encoding', 'x-content-type-options': 'nosniff' }
    const match = c.req.header('if-none-match')
    if (match != null && match.split(',').map(t => t.trim().replace(/^W\//, '')).includes(prepared.etag)) return new Response(null, { status: 304, headers })
    const encoding = prepared.gzip == null ? null : pickEncoding(c.req.header('accept-encoding'))
    const body = encoding == null ? prepared.identity : (prepared[encoding] as Buffer)
    if (encoding != null) headers['content-encoding'] = encoding
    headers['content-length'] = String(body.length)
    return new Response(c.req.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers })
  }

  app.on(['GET', 'HEAD'], '*', async (c, next) => {
    if (c.req.path.startsWith('/api/')) return await next()
    let path: string
    try {
      path = decodeURIComponent(c.req.path)
    } catch {
      path = '/'
    }
    const relative = normalize(path).replace(/^[/\\]+/, '')
    const inside = relative !== '' && !relative.split(sep).includes('..') && !relative.includes('\0')
    const file = inside ? await prepare(join(root, relative)) : null
    if (file != null) return send(c, file, relative.startsWith(`assets${sep}`) ? IMMUTABLE : REVALIDATE)
    // the app's own paths all load index.html; a missing asset is a 404, not the page
    if (relative.startsWith(`assets${sep}`)) return await next()
    const index = await prepare(join(root, 'index.html'))
    return index == null ? await next() : send(c, index, REVALIDATE)
  })
}
