import { PassThrough, type Duplex } from 'node:stream'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type Docker from 'dockerode'
import { randomBytes } from 'node:crypto'
import { HOME_MOUNT } from '../../protocol/jobs/spec.js'
import {
  BACKGROUND_LOG_DIR,
  decodeTunnelMessage, encodeTunnelMessage, MAX_TUNNEL_MESSAGE_BYTES, TUNNEL_MAX_INBOUND_STREAMS, TUNNEL_MAX_OUTBOUND_STREAMS,
  TUNNEL_OPEN_TIMEOUT_MS, TUNNEL_PROTOCOL, TunnelProtocolError, type TunnelMessage, type TunnelOpen
} from '../../protocol/workspaces/tunnel.js'
import type { Logger } from '../log.js'
import { tunnelCredit } from '../transfer/tunnel-credit.js'
import { streamChannel, type MessageChannel } from '../p2p/message-channel.js'
import { NOBODY } from './executor.js'
import { HELPER_BINARY, helperBind } from './helper-binary.js'
import type { WorkspaceAccess } from './workspace-watch.js'

/**
 * The argv exec'd for a tunnel. With the helper mounted (every container created since
 * helper-binary.ts), port relays and probes run the helper's busybox alone, so they need
 * nothing in the image; a terminal's size is set through the helper's shell too. Without it
 * (containers created before), the image's own `nc` and `sh`.
 */
export function execCommand (open: Exclude<TunnelOpen, { type: 'detach' }>, helper: boolean): string[] {
  const port = String(open.type === 'shell' ? 0 : open.port)
  const tool = (name: string): string => helper ? `${HELPER_BINARY} ${name}` : name
  const shell = helper ? [HELPER_BINARY, 'sh'] : ['sh']
  // A terminal's size is set from inside before the command runs: the engine's API (1.41)
  // can only resize an exec once it has started, which a quick command would race.
  if (open.type === 'shell') return [...shell, '-c', `${tool('stty')} cols "$1" rows "$2" 2>/dev/null; shift 2; exec "$@"`, 'floe-shell', String(open.cols), String(open.rows), ...(open.command ?? ['sh'])]
  if (open.type === 'port') return [...(helper ? [HELPER_BINARY] : []), 'nc', '127.0.0.1', port]
  // busybox nc has no -z: a connection still open after a moment, or one that ended well,
  // means something listens; one refused ends at once with status 1
  return [...shell, '-c', `${tool('nc')} 127.0.0.1 "$1" </dev/null >/dev/null 2>&1 & pid=$!; ${tool('sleep')} 0.3; if kill -0 $pid 2>/dev/null; then kill $pid; exit 0; fi; wait $pid`, 'floe-probe', port]
}

/** Exit codes of an exec whose program the image lacks (not found, not executable). */
const NOT_IN_IMAGE = [126, 127]

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
 * `docker exec` with a TTY), a TCP relay (busybox `nc` exec'd in the container, the helper's
 * when mounted, so it reaches the container's own loopback while the container has no
 * network, whatever the image holds) or a background process, for the workspace's client
 * (or to a served port of a batch job, for its client), bytes pumped both ways with the
 * stream's backpressure.
 */
/**
 * Resolves once an exec's process runs (or has run): the engine answers a start before the
 * runtime has made the process, and a save of the home that paused the container in between
 * would fail it (126). Called under the workspace's freeze gate; at most 5 s.
 */
async function processStarted (proc: Docker.Exec): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const info = await proc.inspect()
    if ((info.Pid ?? 0) > 0 || info.ExitCode != null) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export function tunnelServer (components: TunnelServerComponents) {
  const { log } = components

  /** containers that have the helper mounted (it is there from creation, or never) */
  const helperIn = new Map<string, boolean>()
  const hasHelper = async (docker: Docker, containerId: string): Promise<boolean> => {
    let known = helperIn.get(containerId)
    if (known == null) {
      const info = await docker.getContainer(containerId).inspect()
      known = (info.Mounts ?? []).some(mount => mount.Destination === HELPER_BINARY)
      if (helperIn.size > 4096) helperIn.clear()
      helperIn.set(containerId, known)
    }
    return known
  }

  const exec = async (containerId: string, open: Exclude<TunnelOpen, { type: 'detach' }>): Promise<ExecSession> => {
    const docker = await components.docker()
    const tty = open.type === 'shell'
    const command = execCommand(open, await hasHelper(docker, containerId))
    const proc = await docker.getContainer(containerId).exec({
      Cmd: command,
      AttachStdin: open.type !== 'probe',
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
      User: NOBODY,
      // a batch job (a served port) has no home; a relay's working folder does not matter
      WorkingDir: tty ? HOME_MOUNT : '/',
      Env: [`HOME=${HOME_MOUNT}`, 'TERM=xterm-256color']
    })
    const stream = await proc.start({ hijack: true, stdin: open.type !== 'probe', Tty: tty }) as unknown as Duplex
    await processStarted(proc)
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

  /**
   * A background process: no terminal, stdin closed, its output appended to
   * ~/.floe/bg-<id>.log; the engine holds it, not this conversation, so it outlives the
   * tunnel and ends with the container. Needs the helper (its shell does the redirection).
   */
  const detach = async (containerId: string, command: string[]): Promise<{ id: string, log: string }> => {
    const docker = await components.docker()
    if (!await hasHelper(docker, containerId)) throw new Error(`this workspace's container has no ${HELPER_BINARY} (${(await helperBind()).problem ?? 'it was started before floe mounted one'}); restart the workspace to run background processes`)
    const id = randomBytes(4).toString('hex')
    const log = `${HOME_MOUNT}/${BACKGROUND_LOG_DIR}/bg-${id}.log`
    const proc = await docker.getContainer(containerId).exec({
      Cmd: [HELPER_BINARY, 'sh', '-c', `log="$1"; shift; ${HELPER_BINARY} mkdir -p "$(${HELPER_BINARY} dirname "$log")" && exec "$@" >>"$log" 2>&1 </dev/null`, 'floe-bg', log, ...command],
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      User: NOBODY,
      WorkingDir: HOME_MOUNT,
      Env: [`HOME=${HOME_MOUNT}`]
    })
    await proc.start({ Detach: true })
    await processStarted(proc)
    return { id, log }
  }

  const serve = async (channel: MessageChannel, client: string): Promise<void> => {
    const first = await channel.read({ signal: AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS) })
    if (first == null) return
    const open = decodeTunnelMessage(first)
    if (open.type !== 'shell' && open.type !== 'port' && open.type !== 'probe' && open.type !== 'detach') throw new TunnelProtocolError(`a tunnel opens with shell, port, probe or detach, not ${open.type}`)
    const workspace = components.workspace(open.job, client)
    const send = async (message: TunnelMessage): Promise<void> => { await channel.send(encodeTunnelMessage(message)) }
    const refuse = async (message: string): Promise<void> => {
      await send({ type: 'error', message })
      await channel.close()
    }
    if (workspace == null) {
      await refuse(`no running workspace or serving job ${open.job} of yours on this provider`)
      return
    }
    // a batch job's served ports are all a tunnel may reach in it
    const served = workspace.servedPorts
    if (served != null) {
      if (open.type === 'shell' || open.type === 'detach') {
        await refuse(`job ${open.job} is a batch job: only its served port${served.length > 1 ? 's' : ''} (${served.join(', ')}) can be reached, not a terminal or a process`)
        return
      }
      if (!served.includes(open.port)) {
        await refuse(`port ${open.port} of job ${open.job} is not served: the job's spec serves ${served.join(', ')}`)
        return
      }
    }
    if (open.type === 'detach') {
      try {
        const started = await workspace.unfrozen(async () => await detach(workspace.containerId, open.command))
        workspace.touch()
        await send({ type: 'detached', ...started })
        await channel.close()
      } catch (err: any) {
        await refuse(`could not start it in the workspace: ${err?.message ?? err}`)
      }
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
      const code = await workspace.unfrozen(session.exitCode)
      if (open.type !== 'shell' && code != null && NOT_IN_IMAGE.includes(code) && !await hasHelper(await components.docker(), workspace.containerId)) {
        // the image has no nc (or no sh), and the container no helper to stand in
        await send({ type: 'error', message: `the image has no nc or sh to reach port ${open.port} with, and this container has no ${HELPER_BINARY} (${(await helperBind()).problem ?? 'it was created before floe mounted one'}); restart it to forward ports from any image` })
      } else {
        await send({ type: 'exit', code })
      }
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
