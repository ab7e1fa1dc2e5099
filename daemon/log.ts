import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { pino, type Logger } from 'pino'
import { RotatingLogFile } from './log-file.js'
import { prettyDestination } from './log-pretty.js'

export type { Logger }

/** How the daemon prints its log: JSON lines on stderr, or a human line per event on stdout (log-pretty.ts). */
export type LogFormat = 'json' | 'pretty'

/** The log file rotates past this size; with LOG_FILES_KEPT older files, the log takes at most 64 MiB. */
export const LOG_FILE_MAX_BYTES = 16 * 1024 * 1024
export const LOG_FILES_KEPT = 3

/**
 * The daemon's structured log: JSON lines to a file in the home (rotated by size) and to
 * stderr. Components take a child logger, `logger.child({ component: 'floe:api' })`.
 */
export function createLogger (options: { file: string, level: string, maxFileBytes?: number, format?: LogFormat }): Logger {
  mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 })
  const streams = pino.multistream([
    { level: options.level as pino.Level, stream: new RotatingLogFile(options.file, options.maxFileBytes ?? LOG_FILE_MAX_BYTES, LOG_FILES_KEPT) },
    // pretty: a human line per event on stdout (log-pretty.ts), the JSON in the file only
    options.format === 'pretty'
      ? { level: 'info' as pino.Level, stream: prettyDestination() }
      : { level: options.level as pino.Level, stream: pino.destination({ dest: 2, sync: true }) }
  ])
  return pino({ level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, streams)
}

/**
 * Warnings a peer can cause, at most `perMinute` a minute for each key (say, a peer and what
 * it did); past that they are counted, and the next one let through says how many were left
 * out. A peer repeating a refused request cannot fill the log.
 */
export function rateLimitedWarn (log: Pick<Logger, 'warn'>, options: { perMinute: number, maxKeys?: number }) {
  const windows = new Map<string, { start: number, count: number, suppressed: number }>()
  const maxKeys = options.maxKeys ?? 1024
  return (key: string, fields: Record<string, unknown>, message: string): void => {
    const now = Date.now()
    let window = windows.get(key)
    if (window == null || now - window.start >= 60_000) {
      const suppressed = window?.suppressed ?? 0
      if (window == null && windows.size >= maxKeys) windows.delete(windows.keys().next().value as string)
      window = { start: now, count: 0, suppressed: 0 }
      windows.set(key, window)
      if (suppressed > 0) fields = { ...fields, suppressed }
    }
    if (window.count >= options.perMinute) {
      window.suppressed++
      return
    }
    window.count++
    log.warn(fields, message)
  }
}
