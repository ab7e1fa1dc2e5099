import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

/** A zip of the given files, stored (not compressed): what a wheel is. */
export function storedZip (files: Record<string, string>): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text)
    const nameBytes = Buffer.from(name)
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0, 6); local.writeUInt16LE(0, 8)
    local.writeUInt16LE(0, 10); local.writeUInt16LE(0x21, 12); local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(nameBytes.length, 26); local.writeUInt16LE(0, 28)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(0, 8); central.writeUInt16LE(0, 10)
    central.writeUInt16LE(0, 12); central.writeUInt16LE(0x21, 14); central.writeUInt32LE(crc, 16); central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(nameBytes.length, 28); central.writeUInt16LE(0, 30); central.writeUInt16LE(0, 32); central.writeUInt16LE(0, 34); central.writeUInt16LE(0, 36)
    central.writeUInt32LE((0o100644 * 0x10000) >>> 0, 38); central.writeUInt32LE(offset, 42)
    locals.push(local, nameBytes, data)
    centrals.push(central, nameBytes)
    offset += local.length + nameBytes.length + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(0, 4); end.writeUInt16LE(0, 6)
  end.writeUInt16LE(Object.keys(files).length, 8); end.writeUInt16LE(Object.keys(files).length, 10)
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16); end.writeUInt16LE(0, 20)
  return Buffer.concat([...locals, directory, end])
}

/** RECORD's hash form: sha256=<urlsafe base64, no padding> */
function recordHash (data: Buffer | string): string {
  return 'sha256=' + createHash('sha256').update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * A pure-Python wheel, written by the test: `NAME/__init__.py` with the given source and the
 * dist-info (METADATA, WHEEL, RECORD), zipped. Returns its path.
 */
export async function buildWheel (folder: string, name: string, version: string, init: string): Promise<string> {
  const info = `${name}-${version}.dist-info`
  const files: Record<string, string> = {
    [`${name}/__init__.py`]: init,
    [`${info}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: a wheel a floe test built\n`,
    [`${info}/WHEEL`]: 'Wheel-Version: 1.0\nGenerator: floe-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'
  }
  const record = Object.entries(files).map(([path, text]) => `${path},${recordHash(text)},${Buffer.byteLength(text)}`).concat([`${info}/RECORD,,`]).join('\n') + '\n'
  const wheel = join(folder, `${name}-${version}-py3-none-any.whl`)
  await writeFile(wheel, storedZip({ ...files, [`${info}/RECORD`]: record }))
  return wheel
}

export interface PipIndex {
  /** `http://127.0.0.1:PORT/simple/` */
  url: string
  /** paths requested, in order */
  requests: string[]
  close: () => Promise<void>
}

/** A PEP 503 simple index on 127.0.0.1 serving the given wheels (project name → wheel files). */
export async function servePipIndex (projects: Record<string, string[]>): Promise<PipIndex> {
  const requests: string[] = []
  const wheels = new Map<string, Buffer>()
  const links = new Map<string, string[]>()
  for (const [project, files] of Object.entries(projects)) {
    const normal = project.toLowerCase().replace(/[-_.]+/g, '-')
    links.set(normal, [])
    for (const file of files) {
      const data = await readFile(file)
      const base = file.slice(file.lastIndexOf('/') + 1)
      wheels.set(base, data)
      links.get(normal)?.push(`<a href="/files/${base}#sha256=${createHash('sha256').update(data).digest('hex')}">${base}</a>`)
    }
  }
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    requests.push(path)
    const project = /^\/simple\/([^/]+)\/?$/.exec(path)?.[1]
    if (path === '/simple/' || path === '/simple') {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<!DOCTYPE html><html><body>${[...links.keys()].map(p => `<a href="/simple/${p}/">${p}</a>`).join('\n')}</body></html>`)
    } else if (project != null && links.has(project)) {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<!DOCTYPE html><html><body>${links.get(project)?.join('\n') ?? ''}</body></html>`)
    } else if (path.startsWith('/files/') && wheels.has(path.slice(7))) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end(wheels.get(path.slice(7)))
    } else {
      res.writeHead(404)
      res.end('not found')
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}
