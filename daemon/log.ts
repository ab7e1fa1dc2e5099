import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * The daemon's structured log: JSON lines to a file in the home and to stderr. Components
 * take a child logger, `logger.child({ component: 'floe:api' })`.
 */
export function createLogger (options: { file: string, level: string }): Logger {
  mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 })
  const streams = pino.multistream([
    { level: options.level as pino.Level, stream: pino.destination({ dest: options.file, append: true, sync: true, mkdir: true }) },
    { level: options.level as pino.Level, stream: pino.destination({ dest: 2, sync: true }) }
  ])
  return pino({ level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, streams)
}
