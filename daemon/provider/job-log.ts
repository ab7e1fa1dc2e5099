import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { LogLine, LogStream } from '../../protocol/jobs/job.js'

/** Lines kept in memory per job, for clients that follow; older ones are read back from the file. */
export const MEMORY_LINES = 10_000
/** The most a job's log may take; past it, its lines are dropped (a job printing without end must not fill the disk). */
export const MAX_LOG_BYTES = 256 * 1024 * 1024
/** Every this many lines the file offset is noted, so a read from line N starts near it. */
const OFFSET_EVERY = 1024

/**
 * A job's log on the provider: lines numbered in the order they came, appended to a file
 * (NDJSON, one LogLine per line) so they survive a daemon restart and become the job's logs
 * DAG at the end. The newest MEMORY_LINES are also held in memory; readers pull lines from
 * any point (a client that reattaches, or reads slower than its job prints), so nothing is
 * queued for them.
 */
export interface JobLog {
  readonly path: string
  /** the line as numbered, or null when the log is full and the line was dropped */
  append(line: { at: number, stream: LogStream, line: string }): LogLine | null
  /** at most `max` lines with seq > after, in order */
  read(after: number, max: number): Promise<LogLine[]>
  /** resolves once there is a line after `after`, or when `signal` aborts */
  waitFor(after: number, signal: AbortSignal): Promise<void>
  lastSeq(): number
  /** the time of the last container line (stdout/stderr), 0 when none */
  lastContainerAt(): number
  /** flushes the file */
  close(): Promise<void>
}

async function readLines (path: string, after: number, max: number, start: number): Promise<LogLine[]> {
  const lines: LogLine[] = []
  const input = createReadStream(path, { encoding: 'utf8', start })
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      if (text === '') continue
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        break // a line cut by a crash mid-write: everything before it is whole
      }
      if (line.seq <= after) continue
      lines.push(line)
      if (lines.length >= max) break
    }
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  } finally {
    input.destroy()
  }
  return lines
}

/** Opens (or reopens after a restart) the log at `path`. */
export async function openJobLog (path: string, options: { maxBytes?: number, memoryLines?: number } = {}): Promise<JobLog> {
  const maxBytes = options.maxBytes ?? MAX_LOG_BYTES
  const memoryLines = options.memoryLines ?? MEMORY_LINES
  let recent: LogLine[] = []
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
    if (recent.length > memoryLines * 2) recent = recent.slice(-memoryLines)
  }
  for (const line of await readLines(path, 0, Infinity, 0)) note(line, JSON.stringify(line) + '\n')
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
    async read (after, max) {
      const first = recent[0]
      if (first == null || first.seq <= after + 1) {
        const from = first == null ? 0 : Math.max(0, after + 1 - first.seq)
        return recent.slice(from, from + max)
      }
      // older than memory holds: from the file, starting at the noted offset before it
      if (file != null) await new Promise<void>(resolve => { file?.write('', () => { resolve() }) })
      return await readLines(path, after, max, offsets[Math.floor(after / OFFSET_EVERY)] ?? 0)
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
    lastContainerAt: () => lastAt,
    async close () {
      const open = file
      file = undefined
      if (open != null) await new Promise<void>((resolve, reject) => { open.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    }
  }
}
