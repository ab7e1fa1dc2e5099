import { createWriteStream, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { LogLine, LogStream } from '../../protocol/jobs/job.js'

/**
 * A job's log on the provider: lines numbered in the order they came, appended to a file
 * (NDJSON, one LogLine per line) so they survive a daemon restart and become the job's logs
 * DAG at the end, and held in memory for clients that attach.
 */
export interface JobLog {
  readonly path: string
  append(line: { at: number, stream: LogStream, line: string }): LogLine
  /** lines with seq > after */
  since(after: number): LogLine[]
  lastSeq(): number
  /** the time of the last container line (stdout/stderr), 0 when none */
  lastContainerAt(): number
  subscribe(listener: (line: LogLine) => void): () => void
  /** flushes the file */
  close(): Promise<void>
}

/** Opens (or reopens after a restart) the log at `path`. */
export async function openJobLog (path: string): Promise<JobLog> {
  const lines: LogLine[] = []
  try {
    for (const text of (await readFile(path, 'utf8')).split('\n')) {
      if (text === '') continue
      try {
        lines.push(JSON.parse(text) as LogLine)
      } catch {
        // a line cut by a crash mid-write: everything before it is whole
        break
      }
    }
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  const listeners = new Set<(line: LogLine) => void>()
  let file: WriteStream | undefined
  let lastAt = 0
  for (const line of lines) if (line.stream !== 'system') lastAt = line.at
  return {
    path,
    append (entry) {
      const line: LogLine = { seq: lines.length + 1, at: entry.at, stream: entry.stream, line: entry.line }
      lines.push(line)
      if (line.stream !== 'system') lastAt = Math.max(lastAt, line.at)
      file ??= createWriteStream(path, { flags: 'a' })
      file.write(JSON.stringify(line) + '\n')
      for (const listener of listeners) listener(line)
      return line
    },
    since: after => lines.slice(Math.max(0, after)),
    lastSeq: () => lines.length,
    lastContainerAt: () => lastAt,
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    async close () {
      const open = file
      file = undefined
      if (open != null) await new Promise<void>((resolve, reject) => { open.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
    }
  }
}
