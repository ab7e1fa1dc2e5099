import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { LogLine, LogStream } from '../../protocol/jobs/job.js'

/** Lines kept in memory per job, for clients that follow; older ones are read back from the file. */
export const MEMORY_LINES = 10_000
/** The most a job's log may take; past it, its lines are dropped (a job printing without end must not fill the disk). */
export const MAX_LOG_BYTES = 256 * 1024 * 1024

/**
 * A job's log on the provider: lines numbered in the order they came, appended to a file
 * (NDJSON, one LogLine per line) so they survive a daemon restart and become the job's logs
 * DAG at the end. The newest MEMORY_LINES are also held in memory for clients that attach.
 */
export interface JobLog {
  readonly path: string
  /** the line as numbered, or null when the log is full and the line was dropped */
  append(line: { at: number, stream: LogStream, line: string }): LogLine | null
  /** lines with seq > after, in order */
  since(after: number): Promise<LogLine[]>
  lastSeq(): number
  /** the time of the last container line (stdout/stderr), 0 when none */
  lastContainerAt(): number
  /** flushes the file */
  close(): Promise<void>
}

async function readLines (path: string, after: number): Promise<LogLine[]> {
  const lines: LogLine[] = []
  try {
    for await (const text of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) {
      if (text === '') continue
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        break // a line cut by a crash mid-write: everything before it is whole
      }
      if (line.seq > after) lines.push(line)
    }
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  return lines
}

/** Opens (or reopens after a restart) the log at `path`. */
export async function openJobLog (path: string, options: { maxBytes?: number, memoryLines?: number } = {}): Promise<JobLog> {
  const maxBytes = options.maxBytes ?? MAX_LOG_BYTES
  const memoryLines = options.memoryLines ?? MEMORY_LINES
  const existing = await readLines(path, 0)
  let recent: LogLine[] = existing.slice(-memoryLines)
  let seq = existing.length
  let bytes = existing.reduce((sum, line) => sum + Buffer.byteLength(JSON.stringify(line)) + 1, 0)
  let full = false
  let lastAt = 0
  for (const line of existing) if (line.stream !== 'system') lastAt = line.at
  let file: WriteStream | undefined

  const write = (line: LogLine): LogLine => {
    const text = JSON.stringify(line) + '\n'
    bytes += Buffer.byteLength(text)
    file ??= createWriteStream(path, { flags: 'a' })
    file.write(text)
    recent.push(line)
    if (recent.length > memoryLines * 2) recent = recent.slice(-memoryLines)
    return line
  }

  return {
    path,
    append (entry) {
      if (entry.stream !== 'system') lastAt = Math.max(lastAt, entry.at)
      if (full) return null
      if (bytes + Buffer.byteLength(entry.line) + 128 > maxBytes) {
        full = true
        return write({ seq: ++seq, at: entry.at, stream: 'system', line: `the log reached ${maxBytes} bytes; further lines are dropped` })
      }
      return write({ seq: ++seq, at: entry.at, stream: entry.stream, line: entry.line })
    },
    async since (after) {
      const first = recent[0]
      if (first != null && first.seq <= after + 1) return recent.filter(line => line.seq > after)
      // older than what memory holds: from the file (flushed first, so nothing is missed)
      if (file != null) await new Promise<void>(resolve => { file?.write('', () => { resolve() }) })
      const lines = await readLines(path, after)
      const lastOnFile = lines[lines.length - 1]?.seq ?? after
      return [...lines, ...recent.filter(line => line.seq > lastOnFile)]
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
