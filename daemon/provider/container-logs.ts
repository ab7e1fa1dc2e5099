import type { Readable } from 'node:stream'
import type { Container, ContainerInspectInfo } from 'dockerode'
import { msToNs, nsToMs, parseDockerTime, toSinceParam } from './docker-time.js'
import { inspectContainer, shortId } from './container-control.js'
import { dockerMessage, dockerStatus, ExecutorError } from './errors.js'
import { pause } from './pause.js'

export interface LogLine {
  /** ms since the epoch, from Docker's timestamp of the record the line began in */
  at: number
  stream: 'stdout' | 'stderr'
  line: string
}

/** Longer lines are delivered in pieces of this many bytes, so one line cannot hold the daemon's memory. */
export const MAX_LINE_BYTES = 64 * 1024

/**
 * One message as Docker logged it. A process's line longer than 16 KiB is logged as several
 * messages, the last ending in a newline; a final line without a newline ends without one.
 */
export interface LogRecord {
  stream: 'stdout' | 'stderr'
  ns: bigint
  content: Buffer
}

const HEADER_BYTES = 8
/**
 * The largest frame taken. Docker logs a process's output in messages of at most 16 KiB
 * (longer lines are cut, see LogRecord) plus a timestamp; a header announcing more is a
 * broken stream, and waiting for its payload would hold up to 4 GiB.
 */
export const MAX_FRAME_BYTES = 1024 * 1024
const NEWLINE = 0x0a
const CARRIAGE_RETURN = 0x0d
const SPACE = 0x20
/** A timestamp is at most 35 characters (nine fraction digits and a `+hh:mm` offset). */
const MAX_TIMESTAMP_CHARS = 40

/**
 * Splits Docker's multiplexed stream (for a container without a TTY) into records: each frame
 * is an 8-byte header (stream type, three zero bytes, big-endian length) and the payload, one
 * log message prefixed, with `timestamps`, by its RFC3339Nano time and a space. Frames arrive
 * cut anywhere by HTTP chunking, so the tail of a chunk waits for the next.
 */
export class LogFrameDecoder {
  private buffered: Buffer = Buffer.alloc(0)
  private lastNs = 0n

  push (chunk: Buffer): LogRecord[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    const records: LogRecord[] = []
    let offset = 0
    while (this.buffered.length - offset >= HEADER_BYTES) {
      const size = this.buffered.readUInt32BE(offset + 4)
      if (size > MAX_FRAME_BYTES) throw new ExecutorError(`the container's log stream announced a frame of ${size} bytes; Docker's are at most ${MAX_FRAME_BYTES}`)
      const end = offset + HEADER_BYTES + size
      if (this.buffered.length < end) break
      const type = this.buffered[offset]
      const payload = this.buffered.subarray(offset + HEADER_BYTES, end)
      offset = end
      // Type 0 is stdin, which a job's container never logs.
      if (type === 1) records.push(this.toRecord('stdout', payload))
      else if (type === 2) records.push(this.toRecord('stderr', payload))
    }
    this.buffered = this.buffered.subarray(offset)
    return records
  }

  private toRecord (stream: 'stdout' | 'stderr', payload: Buffer): LogRecord {
    const space = payload.subarray(0, MAX_TIMESTAMP_CHARS).indexOf(SPACE)
    const ns = space === -1 ? undefined : parseDockerTime(payload.subarray(0, space).toString('latin1'))
    // Without a readable timestamp (never seen from Docker) the record keeps its text and takes
    // the previous record's time, rather than being dropped.
    if (ns == null) return { stream, ns: this.lastNs, content: payload }
    this.lastNs = ns
    return { stream, ns, content: payload.subarray(space + 1) }
  }
}

interface PendingLine {
  bytes: Buffer
  at: number
}

/**
 * Joins records into lines, per stream: a line ends at `\n` (a `\r` before it is dropped), a
 * line longer than MAX_LINE_BYTES is cut (at a UTF-8 character boundary), and `flush` delivers
 * what is left unterminated once the logs are over.
 */
export class LineAssembler {
  private readonly pending: Record<'stdout' | 'stderr', PendingLine> = {
    stdout: { bytes: Buffer.alloc(0), at: 0 },
    stderr: { bytes: Buffer.alloc(0), at: 0 }
  }

  constructor (private readonly emit: (line: LogLine) => void) {}

  push (record: LogRecord): void {
    const at = nsToMs(record.ns)
    let content = record.content
    while (content.length > 0) {
      const newline = content.indexOf(NEWLINE)
      this.append(record.stream, newline === -1 ? content : content.subarray(0, newline), at)
      if (newline === -1) return
      this.endLine(record.stream)
      content = content.subarray(newline + 1)
    }
  }

  flush (): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.pending[stream].bytes.length > 0) this.endLine(stream)
    }
  }

  private append (stream: 'stdout' | 'stderr', piece: Buffer, at: number): void {
    const pending = this.pending[stream]
    if (pending.bytes.length === 0) pending.at = at
    let bytes = pending.bytes.length === 0 ? piece : Buffer.concat([pending.bytes, piece])
    while (bytes.length > MAX_LINE_BYTES) {
      const cut = characterBoundary(bytes, MAX_LINE_BYTES)
      this.emit({ at: pending.at, stream, line: bytes.subarray(0, cut).toString('utf8') })
      bytes = bytes.subarray(cut)
      pending.at = at
    }
    pending.bytes = bytes
  }

  private endLine (stream: 'stdout' | 'stderr'): void {
    const pending = this.pending[stream]
    let bytes = pending.bytes
    if (bytes.at(-1) === CARRIAGE_RETURN) bytes = bytes.subarray(0, -1)
    pending.bytes = Buffer.alloc(0)
    this.emit({ at: pending.at, stream, line: bytes.toString('utf8') })
  }
}

/** The largest index ≤ limit that does not fall inside a UTF-8 character (continuation bytes are 10xxxxxx). */
function characterBoundary (bytes: Buffer, limit: number): number {
  for (let cut = limit; cut > limit - 4 && cut > 0; cut--) {
    if (((bytes[cut] ?? 0) & 0xc0) !== 0x80) return cut
  }
  return limit
}

/**
 * After a broken stream the logs are asked for again from this long before the newest record
 * seen, and the records already delivered are skipped: Docker's `since` compares timestamps,
 * and stdout and stderr records are stamped by separate copiers, so near the cut they may sit
 * in the file slightly out of time order.
 */
const REPLAY_WINDOW_NS = 1_000_000_000n
const PRUNE_FROM_ENTRIES = 4096

/** The records delivered lately, by stream and exact time, so a replayed one is recognised. */
class DeliveredRecords {
  private readonly counts = new Map<string, { ns: bigint, count: number }>()
  private pruneAt = PRUNE_FROM_ENTRIES
  newest: bigint | undefined

  add (record: LogRecord): void {
    const key = `${record.stream}:${record.ns}`
    const entry = this.counts.get(key)
    if (entry == null) this.counts.set(key, { ns: record.ns, count: 1 })
    else entry.count++
    if (this.newest == null || record.ns > this.newest) this.newest = record.ns
    if (this.counts.size >= this.pruneAt) this.prune()
  }

  /** Where to ask for the logs again, and which of the records that come back to skip. */
  resumePoint (): { sinceNs: bigint | undefined, skip: (record: LogRecord) => boolean } {
    if (this.newest == null) return { sinceNs: undefined, skip: () => false }
    this.prune()
    const remaining = new Map([...this.counts].map(([key, entry]) => [key, entry.count]))
    return {
      sinceNs: this.newest - REPLAY_WINDOW_NS,
      skip: record => {
        const key = `${record.stream}:${record.ns}`
        const count = remaining.get(key) ?? 0
        if (count === 0) return false
        remaining.set(key, count - 1)
        return true
      }
    }
  }

  private prune (): void {
    if (this.newest == null) return
    const oldest = this.newest - REPLAY_WINDOW_NS
    for (const [key, entry] of this.counts) {
      if (entry.ns < oldest) this.counts.delete(key)
    }
    // A burst of more records than this within the window would otherwise prune on every add.
    this.pruneAt = Math.max(PRUNE_FROM_ENTRIES, this.counts.size * 2)
  }
}

export interface FollowLogsOptions {
  /** ms since the epoch: lines with `at` at or before it are not delivered */
  sinceMs?: number
  onLog: (line: LogLine) => void
  /** ends following: the stream is closed and the promise rejects with the signal's reason */
  signal: AbortSignal
}

/** A stream that breaks sooner than this, having brought nothing, counts towards giving up. */
const SHORT_STREAM_MS = 1_000
const MAX_SHORT_BREAKS = 5
const REOPEN_PAUSE_MS = 250

/**
 * Delivers the container's log lines until it has stopped and every line is out, and returns
 * its inspection taken after it stopped.
 *
 * A follow stream ends for three reasons, all handled by asking again from the last record:
 * the container stopped; the client cut it (dockerode's `timeout` is an idle timeout on the
 * socket, so a job silent for longer breaks the stream); or the engine ended it early. Docker
 * 20.10 ends a follow stream when the container exits without sending the last message (an
 * unterminated final line is logged after exit), so once the container is seen stopped the
 * logs are read once more to their end.
 */
export async function followLogs (container: Container, options: FollowLogsOptions): Promise<ContainerInspectInfo> {
  const { signal } = options
  const sinceMs = options.sinceMs
  const lines = new LineAssembler(line => {
    if (sinceMs == null || line.at > sinceMs) options.onLog(line)
  })
  const delivered = new DeliveredRecords()
  const firstSinceNs = sinceMs == null ? 0n : msToNs(sinceMs)
  let stopped: ContainerInspectInfo | undefined
  let shortBreaks = 0
  while (true) {
    signal.throwIfAborted()
    const draining = stopped
    const resume = delivered.resumePoint()
    const sinceNs = resume.sinceNs == null || resume.sinceNs < firstSinceNs ? firstSinceNs : resume.sinceNs
    const opened = Date.now()
    const read = await readLogStream(container, sinceNs, signal, record => {
      if (resume.skip(record)) return
      delivered.add(record)
      lines.push(record)
    })
    signal.throwIfAborted()
    if (draining != null && read.complete) {
      lines.flush()
      return draining
    }
    const short = Date.now() - opened < SHORT_STREAM_MS
    if (read.complete || read.records > 0 || !short) shortBreaks = 0
    else if (++shortBreaks >= MAX_SHORT_BREAKS) {
      throw new ExecutorError(`the log stream of container ${shortId(container.id)} broke ${shortBreaks} times in a row: ${dockerMessage(read.error)}`, { cause: read.error })
    }
    const info = await inspectContainer(container)
    if (!info.State.Running) stopped = info
    else if (short) await pause(REOPEN_PAUSE_MS, signal)
  }
}

interface StreamRead {
  /** the engine ended the stream, as opposed to a broken connection */
  complete: boolean
  records: number
  error?: unknown
}

async function readLogStream (container: Container, sinceNs: bigint, signal: AbortSignal, onRecord: (record: LogRecord) => void): Promise<StreamRead> {
  let readable: Readable
  try {
    // No `abortSignal` here: the engine answers a follow at once, and the signal is applied to
    // the response below, where its listener is removed again (a long job reopens many times).
    const stream = await container.logs({ follow: true, stdout: true, stderr: true, timestamps: true, since: toSinceParam(sinceNs) })
    // With `follow`, dockerode hands over the HTTP response itself, a Node Readable.
    readable = stream as unknown as Readable
  } catch (err) {
    const status = dockerStatus(err)
    if (status === 404 || (status === 409 && /marked for removal/i.test(dockerMessage(err)))) {
      throw new ExecutorError(`container ${shortId(container.id)} was removed while it was followed`, { cause: err })
    }
    throw new ExecutorError(`could not read the logs of container ${shortId(container.id)}: ${dockerMessage(err)}`, { cause: err })
  }
  const close = (): void => { readable.destroy() }
  signal.addEventListener('abort', close, { once: true })
  if (signal.aborted) close()
  const decoder = new LogFrameDecoder()
  const chunks: AsyncIterator<Buffer> = readable[Symbol.asyncIterator]()
  let records = 0
  try {
    while (true) {
      let next: IteratorResult<Buffer>
      try {
        next = await chunks.next()
      } catch (err) {
        signal.throwIfAborted()
        // A broken connection is not a failure of the job: the caller asks again from the last record.
        return { complete: false, records, error: err }
      }
      if (next.done === true) return { complete: true, records }
      for (const record of decoder.push(next.value)) {
        // An onLog that detached gets no further lines, not even from this chunk.
        signal.throwIfAborted()
        records++
        onRecord(record)
      }
    }
  } finally {
    signal.removeEventListener('abort', close)
    readable.destroy()
  }
}
