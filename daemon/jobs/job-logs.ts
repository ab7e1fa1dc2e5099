import { isFinal, type LogLine } from '../../protocol/jobs/job.js'
import type { JobRecord, JobRecords } from './records.js'

type Listener = (event: { line?: LogLine, record: JobRecord }) => void

export interface FollowOptions {
  /** lines after this seq (0: all) */
  after: number
  /** go on with each new line until the job ends (or `signal` aborts) */
  follow: boolean
  signal?: AbortSignal
  onLine: (line: LogLine) => void
}

/**
 * The log lines of the jobs this node submitted, for readers: what is stored, then (when
 * following) each line as the runner saves it (`notify`), until the job ends.
 */
export function jobLogFeed (records: Pick<JobRecords, 'logs'>) {
  const listeners = new Map<string, Set<Listener>>()

  return {
    /** A save of the job: its new lines (if any), then the record as it is now. */
    notify (record: JobRecord, lines: LogLine[] = []): void {
      const set = listeners.get(record.jobId)
      if (set == null) return
      for (const listener of set) {
        for (const line of lines) listener({ line, record })
        listener({ record })
      }
    },

    /**
     * Every stored line after `after`, then (with `follow`) each new one as it arrives, until
     * the job ends or `signal` aborts; resolves with the record as it is then.
     */
    async follow (start: JobRecord, options: FollowOptions): Promise<JobRecord> {
      let record = start
      let last = options.after
      const queue: LogLine[] = []
      let wake: (() => void) | undefined
      const listener: Listener = event => {
        if (event.line != null) queue.push(event.line)
        record = event.record
        wake?.()
      }
      // one abort listener for the whole follow (one per wait would pile up over a long `logs -f`)
      const onAbort = (): void => { wake?.() }
      if (options.follow) {
        let set = listeners.get(record.jobId)
        if (set == null) listeners.set(record.jobId, set = new Set())
        set.add(listener)
        options.signal?.addEventListener('abort', onAbort, { once: true })
      }
      try {
        for await (const line of records.logs(record.jobId, last)) {
          options.onLine(line)
          last = line.seq
        }
        if (!options.follow) return record
        while (true) {
          for (const line of queue.splice(0)) {
            if (line.seq <= last) continue
            options.onLine(line)
            last = line.seq
          }
          if (isFinal(record.state) || options.signal?.aborted === true) return record
          await new Promise<void>(resolve => { wake = resolve })
          wake = undefined
        }
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
        const set = listeners.get(record.jobId)
        set?.delete(listener)
        if (set?.size === 0) listeners.delete(record.jobId)
      }
    },

    /** how many readers follow the job now */
    following (jobId: string): number {
      return listeners.get(jobId)?.size ?? 0
    }
  }
}

export type JobLogFeed = ReturnType<typeof jobLogFeed>
