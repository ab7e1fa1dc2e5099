import { SingleBar } from 'cli-progress'
import type { Progress } from '../protocol/api/routes.js'

function size (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export { size as formatBytes }

/**
 * A progress bar on stderr for long operations (bytes, rate, ETA), shown only to a person
 * at a terminal: never with --json, never when stderr is a pipe or file.
 */
export function progressBar (enabled: boolean): { update(p: Progress): void, stop(): void } {
  if (!enabled || process.stderr.isTTY !== true) return { update () {}, stop () {} }
  const started = Date.now()
  let bar: SingleBar | undefined
  return {
    update (p) {
      const total = p.totalBytes ?? 0
      const seconds = Math.max((Date.now() - started) / 1000, 0.001)
      const rate = p.bytes / seconds
      const payload = {
        phase: p.phase.padEnd(6),
        done: size(p.bytes),
        all: p.totalBytes == null ? '?' : size(p.totalBytes),
        rate: `${size(rate)}/s`
      }
      if (bar == null) {
        bar = new SingleBar({
          stream: process.stderr,
          format: '{phase} [{bar}] {percentage}% | {done} / {all} | {rate} | ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50
        })
        bar.start(Math.max(total, 1), 0, payload)
      }
      if (total > 0) bar.setTotal(total)
      bar.update(Math.min(p.bytes, Math.max(total, 1)), payload)
    },
    stop () {
      bar?.stop()
    }
  }
}
