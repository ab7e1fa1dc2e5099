import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** RECORD's hash form: sha256=<urlsafe base64, no padding> */
function recordHash (data: Buffer | string): string {
  return 'sha256=' + createHash('sha256').update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * A pure-Python wheel, written by the test: `NAME/__init__.py` with the given source and the
 * dist-info (METADATA, WHEEL, RECORD); zipped with the host's python3 -m zipfile. Returns its path.
 */
export async function buildWheel (folder: string, name: string, version: string, init: string): Promise<string> {
  const root = join(folder, `${name}-wheel`)
  const info = `${name}-${version}.dist-info`
  await mkdir(join(root, name), { recursive: true })
  await mkdir(join(root, info), { recursive: true })
  const files: Record<string, string> = {
    [`${name}/__init__.py`]: init,
    [`${info}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: a wheel a floe test built\n`,
    [`${info}/WHEEL`]: 'Wheel-Version: 1.0\nGenerator: floe-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'
  }
  for (const [path, text] of Object.entries(files)) await writeFile(join(root, path), text)
  const record = Object.entries(files).map(([path, text]) => `${path},${recordHash(text)},${Buffer.byteLength(text)}`).concat([`${info}/RECORD,,`]).join('\n') + '\n'
  await writeFile(join(root, info, 'RECORD'), record)
  const wheel = join(folder, `${name}-${version}-py3-none-any.whl`)
  await exec('python3', ['-m', 'zipfile', '-c', wheel, name, info], { cwd: root })
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
