import { PassThrough, type Duplex } from 'node:stream'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type Docker from 'dockerode'
import { HOME_MOUNT } from '../../protocol/jobs/spec.js'
import {
  decodeTunnelMessage, encodeTunnelMessage, MAX_TUNNEL_MESSAGE_BYTES, TUNNEL_MAX_INBOUND_STREAMS, TUNNEL_MAX_OUTBOUND_STREAMS,
  TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PROTOCOL, TunnelProtocolError, type TunnelMessage, type TunnelOpen
} from '../../protocol/workspaces/tunnel.js'
import type { Logger } from '../log.js'
import { tunnelCredit } from '../transfer/tunnel-credit.js'
import { streamChannel, type MessageChannel } from '../p2p/message-channel.js'
import { NOBODY } from './executor.js'
import type { WorkspaceAccess } from './workspace-watch.js'

/** How long a closed tunnel's process has after SIGHUP before SIGKILL. */
const HANGUP_GRACE_MS = 2_000

export interface TunnelServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** a running workspace of this client's (and a touch that counts traffic), or undefined */
  workspace: (jobId: string, client: string) => WorkspaceAccess | undefined
  docker: () => Promise<Docker>
  log: Logger
}

/** What a process exec'd in a workspace gives: its byte stream both ways, resize, exit code. */
interface ExecSession {
  input: Duplex
  output: NodeJS.ReadableStream
  resize: (cols: number, rows: number) => Promise<void>
  exitCode: () => Promise<number | null>
  /** hangs the process up (SIGHUP, SIGKILL a moment later) when its tunnel closes first */
  hangUp: () => Promise<void>
}

/**
 * The provider's side of `/floe/tunnel/1.0.0`: a terminal (a process under a pseudo-terminal,
 * `docker exec` with a TTY) or a TCP relay (busybox `nc` exec'd in the container, so it reaches
 * the container's own loopback while the container has no network) for the workspace's
 * client, bytes pumped both ways with the stream's backpressure.
 */
export function tunnelServer (components: TunnelServerComponents) {
  const { log } = components

  const exec = async (containerId: string, open: TunnelOpen): Promise<ExecSession> => {
    const docker = await components.docker()
    const tty = open.type === 'shell'
    // A terminal's size is set from inside before the command runs: the engine's API (1.41)
    // can only resize an exec once it has started, which a quick command would race.
    const command = open.type === 'shell'
      ? ['sh', '-c', 'stty cols "$1" rows "$2" 2>/dev/null; shift 2; exec "$@"', 'floe-shell', String(open.cols), String(open.rows), ...(open.command ?? ['sh'])]
      : open.type === 'port'
        ? ['nc', '127.0.0.1', String(open.port)]
        // busybox nc has no -z: a connection still open after a moment, or one that ended
        // well, means something listens; one refused ends at once with status 1
        : ['sh', '-c', 'nc 127.0.0.1 "$1" </dev/null >/dev/null 2>&1 & pid=$!; sleep 0.3; if kill -0 $pid 2>/dev/null; then kill $pid; exit 0; fi; wait $pid', 'floe-probe', String(open.port)]
    const proc = await docker.getContainer(containerId).exec({
      Cmd: command,
      AttachStdin: open.type !== 'probe',
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
      User: NOBODY,
      WorkingDir: HOME_MOUNT,
      Env: [`HOME=${HOME_MOUNT}`, 'TERM=xterm-256color']
    })
    const stream = await proc.start({ hijack: true, stdin: open.type !== 'probe', Tty: tty }) as unknown as Duplex
    let output: NodeJS.ReadableStream = stream
    if (!tty) {
      // without a TTY Docker multiplexes stdout and stderr with frame headers
      const plain = new PassThrough()
      docker.modem.demuxStream(stream, plain, plain)
      stream.on('end', () => { plain.end() })
      output = plain
    }
    return {
      input: stream,
      output,
      resize: async (cols, rows) => { await proc.resize({ h: rows, w: cols }) },
      exitCode: async () => {
        // the engine can take a moment to see an exec's process gone; 5 s on a loaded host
        for (let i = 0; i < 100; i++) {
          const info = await proc.inspect()
          if (info.Running !== true) return info.ExitCode ?? null
          await new Promise(resolve => setTimeout(resolve, 50))
        }
        return null
      },
      hangUp: async () => {
        // the engine has no way to signal an exec; its host pid does (the process runs as
        // this daemon's user, or as nobody when the daemon is root)
        const info = await proc.inspect()
        if (info.Running !== true || info.Pid == null || info.Pid <= 0) return
        const signal = (name: NodeJS.Signals): void => {
          try {
            globalThis.process.kill(info.Pid, name)
          } catch (err: any) {
            if (err?.code !== 'ESRCH') log.debug({ pid: info.Pid, err: err?.message }, 'could not signal a closed tunnel\'s process')
          }
        }
        signal('SIGHUP')
        await new Promise(resolve => setTimeout(resolve, HANGUP_GRACE_MS))
        if ((await proc.inspect()).Running === true) signal('SIGKILL')
      }
    }
  }

  const serve = async (channel: MessageChannel, client: string): Promise<void> => {
    const first = await channel.read({ signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS) })
    if (first == null) return
    const open = decodeTunnelMessage(first)
    if (open.type !== 'shell' && open.type !== 'port' && open.type !== 'probe') throw new TunnelProtocolError(`a tunnel opens with shell, port or probe, not ${open.type}`)
    const workspace = components.workspace(open.job, client)
    const send = async (message: TunnelMessage): Promise<void> => { await channel.send(encodeTunnelMessage(message)) }
    if (workspace == null) {
      await send({ type: 'error', message: `no running workspace ${open.job} of yours on this provider` })
      await channel.close()
      return
    }
    let session: ExecSession
    try {
      session = await workspace.unfrozen(async () => await exec(workspace.containerId, open))
      if (open.type === 'shell') await session.resize(open.cols, open.rows).catch(() => { /* a process that exited at once has nothing to resize */ })
    } catch (err: any) {
      await send({ type: 'error', message: `could not start it in the workspace: ${err?.message ?? err}` })
      await channel.close()
      return
    }
    await send({ type: 'ready' })

    // each way at most a window of data in flight, whatever either end's pace
    const credit = tunnelCredit(send)
    const ended = new AbortController()
    // process → client, a chunk at a time, the process paused while the window is full
    const pumpOut = (async () => {
      for await (const chunk of session.output as AsyncIterable<Buffer>) {
        workspace.touch()
        await credit.sendData(chunk, ended.signal)
      }
    })()
    // client → process
    const pumpIn = (async () => {
      while (true) {
        const bytes = await channel.read()
        if (bytes == null) break
        const message = decodeTunnelMessage(bytes)
        workspace.touch()
        if (message.type === 'data') {
          if (!session.input.write(message.bytes)) await new Promise<void>(resolve => { session.input.once('drain', () => { resolve() }) })
          await credit.handedOn(message.bytes.byteLength)
        } else if (message.type === 'ack') {
          credit.acknowledge(message.bytes)
        } else if (message.type === 'resize') {
          await session.resize(message.cols, message.rows).catch((err: Error) => { log.debug({ err: err.message }, 'terminal resize failed') })
        } else if (message.type === 'eof') {
          session.input.end()
        } else {
          throw new TunnelProtocolError(`unexpected ${message.type} from the client`)
        }
      }
    })()
    pumpIn.catch((err: Error) => { credit.fail(err); ended.abort(err) })
    // the client gone first (a closed terminal, a dropped connection): its process goes too
    const hangUp = (): void => { session.hangUp().catch((err: Error) => { log.debug({ err: err.message }, 'could not hang up a tunnel\'s process') }) }
    pumpIn.then(() => { if (open.type === 'shell') hangUp() }, () => { session.input.destroy(); hangUp() })
    try {
      await pumpOut
      await send({ type: 'exit', code: await workspace.unfrozen(session.exitCode) })
    } finally {
      session.input.destroy()
    }
    await channel.close()
  }

  const serveLogged = (channel: MessageChannel, client: string): void => {
    serve(channel, client).catch((err: Error) => {
      log.debug({ client, err: err.message }, 'tunnel ended with an error')
      channel.abort(err)
    })
  }

  const handler = (stream: Stream, connection: Connection): void => {
    const client = connection.remotePeer.toString()
    serveLogged(streamChannel(stream, client, MAX_TUNNEL_MESSAGE_BYTES), client)
  }

  let started = false
  return {
    /** a tunnel from this node's own client side (it cannot dial itself) */
    serveLocal (channel: MessageChannel, client: string): void {
      serveLogged(channel, client)
    },
    async start (): Promise<void> {
      if (started) return
      started = true
      await components.libp2p.handle(TUNNEL_PROTOCOL, handler, { maxInboundStreams: TUNNEL_MAX_INBOUND_STREAMS, maxOutboundStreams: TUNNEL_MAX_OUTBOUND_STREAMS, runOnLimitedConnection: true })
    },
    async stop (): Promise<void> {
      if (!started) return
      started = false
      await components.libp2p.unhandle(TUNNEL_PROTOCOL)
    }
  }
}

export type TunnelServer = ReturnType<typeof tunnelServer>
