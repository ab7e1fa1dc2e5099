import { rm } from 'node:fs/promises'
import { createConnection, createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** The engine's API requests a slow engine holds: a container's start and an exec's start. */
export const START_REQUESTS = /^POST (?:\/v[\d.]+)?\/(?:containers|exec)\/[0-9a-f]+\/start[ ?]/m

export interface SlowEngine {
  /** give a daemon `DOCKER_HOST=unix://<socketPath>` */
  socketPath: string
  /** how many requests it has held */
  held: () => number
  close: () => Promise<void>
}

/**
 * A stand-in for a Docker engine on a loaded machine: a socket in front of the real engine
 * that passes every byte through, but holds a request matching `hold` for `holdMs` before the
 * engine sees it, as a busy engine starting a gVisor sandbox answers late. Keep-alive
 * connections carry one request at a time, so holding one chunk holds that request (and any
 * behind it), never another connection's.
 */
export async function slowEngine (options: { socketPath: string, holdMs: number, hold?: RegExp, engine?: string }): Promise<SlowEngine> {
  const hold = options.hold ?? START_REQUESTS
  const engine = options.engine ?? '/var/run/docker.sock'
  const sockets = new Set<Socket>()
  let held = 0
  await rm(options.socketPath, { force: true })
  const server = createServer(client => {
    const upstream = createConnection(engine)
    sockets.add(client).add(upstream)
    upstream.pipe(client)
    let queue = Promise.resolve()
    client.on('data', chunk => {
      queue = queue.then(async () => {
        if (hold.test(chunk.toString('latin1'))) {
          held++
          await sleep(options.holdMs)
        }
        if (!upstream.destroyed) upstream.write(chunk)
      })
    })
    const close = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(options.socketPath, resolve) })
  return {
    socketPath: options.socketPath,
    held: () => held,
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
      await rm(options.socketPath, { force: true })
    }
  }
}
