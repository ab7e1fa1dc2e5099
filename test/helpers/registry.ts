import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'

/** A free TCP port on 127.0.0.1 (listened on and closed: free for a moment). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address != null ? address.port : 0) })
    })
  })
}

export interface LocalRegistry {
  /** `127.0.0.1:PORT` */
  host: string
  stop: () => Promise<void>
}

/**
 * Debian's docker-registry (distribution) on loopback, its storage under `folder`. Docker
 * treats 127.0.0.0/8 as an insecure registry, so push and pull work over plain HTTP.
 */
export async function startRegistry (folder: string): Promise<LocalRegistry> {
  const port = await freePort()
  const config = join(folder, 'registry.yml')
  await writeFile(config, [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(folder, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ''
  ].join('\n'))
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', chunk => { stderr += String(chunk) })
  let exited: number | null | undefined
  child.on('exit', code => { exited = code })
  const host = `127.0.0.1:${port}`
  for (const deadline = Date.now() + 15_000; ;) {
    if (exited !== undefined) throw new Error(`docker-registry exited with ${exited}: ${stderr}`)
    const up = await fetch(`http://${host}/v2/`).then(r => r.ok, () => false)
    if (up) break
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`docker-registry did not answer on ${host}: ${stderr}`) }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    host,
    stop: async () => {
      if (exited !== undefined) return
      const gone = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await gone
    }
  }
}
