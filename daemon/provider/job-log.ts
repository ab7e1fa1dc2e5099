import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { LogLine, LogStream } from '../../protocol/jobs/job.js'

/** Lines kept in memory per job, for clients that follow; older ones are read back from the file. */
export const MEMORY_LINES = 10_000
/**
 * Bytes of line text kept in memory per job, whatever the count: a job printing 64 KiB lines
 * (the most one line may be, container-logs.ts) would otherwise hold 10,000 × 64 KiB = 625 MiB.
 * 4 MiB holds the last 10,000 lines of 400 bytes, ample for a client that keeps up; one that
 * falls behind reads from the file, which is what the offsets are for. With the default of
 * 4 jobs at once that is 16 MiB of a provider's memory at most.
 */
export const MEMORY_BYTES = 4 * 1024 * 1024
/**
 * The most bytes of line text one read returns (at least one line, however long): a reader
 * asking for 1024 lines of 64 KiB would otherwise hold 64 MiB at once, per follower.
 */
export const READ_BYTES = 1024 * 1024
/** The most a job's log may take; past it, its lines are dropped (a job printing without end must not fill the disk). */
export const MAX_LOG_BYTES = 256 * 1024 * 1024
/** Every this many lines the file offset is noted, so a read from line N starts near it. */
const OFFSET_EVERY = 1024

/**
 * A job's log on the provider: lines numbered in the order they came, appended to a file
 * (NDJSON, one LogLine per line) so they survive a daemon restart and become the job's logs
 * DAG at the end. The newest MEMORY_LINES (at most MEMORY_BYTES of text) are also held in
 * memory; readers pull lines (at most READ_BYTES at a time) from
 * any point (a client that reattaches, or reads slower than its job prints), so nothing is
 * queued for them.
 */
export interface JobLog {
  readonly path: string
  /** the line as numbered, or null when the log is full and the line was dropped */
  append(line: { at: number, stream: LogStream, line: string }): LogLine | null
  /** at most `max` lines with seq > after, in order, and no more than `maxBytes` (READ_BYTES) of text unless one line alone is longer */
  read(after: number, max: number, maxBytes?: number): Promise<LogLine[]>
  /** resolves once there is a line after `after`, or when `signal` aborts */
  waitFor(after: number, signal: AbortSignal): Promise<void>
  lastSeq(): number
  /** bytes of line text held in memory now (at most MEMORY_BYTES, or one line over it) */
  heldBytes(): number
  /** the time of the last container line (stdout/stderr), 0 when none */
  lastContainerAt(): number
  /** flushes the file */
  close(): Promise<void>
}

/** The bytes a line's text takes in memory, as counted against MEMORY_BYTES and READ_BYTES. */
function textBytes (line: LogLine): number {
  return Buffer.byteLength(line.line) + 64
}

/** The file's lines from byte `start` on, each parsed, up to a line cut by a crash mid-write (everything before it is whole). */
async function * fileLines (path: string, start: number): AsyncGenerator<LogLine> {
  const input = createReadStream(path, { encoding: 'utf8', start })
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      if (text === '') continue
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        return
      }
      yield line
    }
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  } finally {
    input.destroy()
  }
}

async function readLines (path: string, after: number, max: number, start: number, maxBytes: number): Promise<LogLine[]> {
  const lines: LogLine[] = []
  let bytes = 0
  for await (const line of fileLines(path, start)) {
    if (line.seq <= after) continue
    bytes += textBytes(line)
    if (lines.length > 0 && bytes > maxBytes) break
    lines.push(line)
    if (lines.length >= max) break
  }
  return lines
}

/** Opens (or reopens after a restart) the log at `path`. */
export async function openJobLog (path: string, options: { maxBytes?: number, memoryLines?: number, memoryBytes?: number } = {}): Promise<JobLog> {
  const maxBytes = options.maxBytes ?? MAX_LOG_BYTES
  const memoryLines = options.memoryLines ?? MEMORY_LINES
  const memoryBytes = options.memoryBytes ?? MEMORY_BYTES
  /** the newest lines: recent[head…] (the head moves on as old ones leave; compacted now and then) */
  let recent: LogLine[] = []
  let head = 0
  let recentBytes = 0
  /** offsets[k]: where line k × OFFSET_EVERY + 1 starts in the file */
  const offsets: number[] = []
  let seq = 0
  let bytes = 0
  let lastAt = 0
  const note = (line: LogLine, text: string): void => {
    if ((line.seq - 1) % OFFSET_EVERY === 0) offsets.push(bytes)
    bytes += Buffer.byteLength(text)
    seq = line.seq
    if (line.stream !== 'system') lastAt = Math.max(lastAt, line.at)
    recent.push(line)
    recentBytes += textBytes(line)
    while (recent.length - head > 1 && (recent.length - head > memoryLines || recentBytes > memoryBytes)) {
      recentBytes -= textBytes(recent[head] as LogLine)
      recent[head++] = undefined as unknown as LogLine // its text may go now
    }
    if (head > 1024 && head * 2 > recent.length) {
      recent = recent.slice(head)
      head = 0
    }
  }
  // line by line: a log of up to MAX_LOG_BYTES is never held whole
  for await (const line of fileLines(path, 0)) note(line, JSON.stringify(line) + '\n')
  let full = bytes >= maxBytes
  let file: WriteStream | undefined
  const waiters = new Set<() => void>()

  const write = (line: LogLine): LogLine => {
    const text = JSON.stringify(line) + '\n'
    note(line, text)
    file ??= createWriteStream(path, { flags: 'a' })
    file.write(text)
    for (const wake of waiters) wake()
    waiters.clear()
    return line
  }

  return {
    path,
    append (entry) {
      if (entry.stream !== 'system') lastAt = Math.max(lastAt, entry.at)
      if (full) return null
      if (bytes + Buffer.byteLength(entry.line) + 128 > maxBytes) {
        full = true
        return write({ seq: seq + 1, at: entry.at, stream: 'system', line: `the log reached ${maxBytes} bytes; further lines are dropped` })
      }
      return write({ seq: seq + 1, at: entry.at, stream: entry.stream, line: entry.line })
    },
    async read (after, max, maxBytes = READ_BYTES) {
      const first = recent[head]
      if (first == null || first.seq <= after + 1) {
        const lines: LogLine[] = []
        let bytes = 0
        for (let i = head + (first == null ? 0 : Math.max(0, after + 1 - first.seq)); i < recent.length && lines.length < max; i++) {
          const line = recent[i] as LogLine
          bytes += textBytes(line)
          if (lines.length > 0 && bytes > maxBytes) break
          lines.push(line)
        }
        return lines
      }
      // older than memory holds: from the file, starting at the noted offset before it
      if (file != null) await new Promise<void>(resolve => { file?.write('', () => { resolve() }) })
      return await readLines(path, after, max, offsets[Math.floor(after / OFFSET_EVERY)] ?? 0, maxBytes)
    },
    async waitFor (after, signal) {
      if (seq > after || signal.aborted) return
      await new Promise<void>(resolve => {
        const wake = (): void => {
          signal.removeEventListener('abort', wake)
          waiters.delete(wake)
          resolve()
        }
        waiters.add(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    },
    lastSeq: () => seq,
    heldBytes: () => recentBytes,
    lastContainerAt: () => lastAt,
    async close () {
      const open = file
      file = undefined
      if (open != null) await new Promise<void>((resolve, reject) => { open.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    }
  }
}
