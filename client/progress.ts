import { SingleBar } from 'cli-progress'
import type { Progress } from '../protocol/progress.js'
import { formatSize } from '../protocol/market/requirements.js'

/**
 * A progress bar on stderr for long operations (bytes, rate, ETA), shown only to a person
 * at a terminal: never with --json, never when stderr is a pipe or file.
 */
export function progressBar (enabled: boolean): { update(p: Progress): void, stop(): void } {
  if (!enabled) return { update () {}, stop () {} }
  // lines of text (a build's output) go to stderr as they come, terminal or not; the bar only to a terminal
  if (process.stderr.isTTY !== true) return { update (p) { if (p.message != null) process.stderr.write(`${p.phase}: ${p.message}\n`) }, stop () {} }
  const started = Date.now()
  let bar: SingleBar | undefined
  return {
    update (p) {
      if (p.message != null) {
        bar?.stop()
        bar = undefined
        process.stderr.write(`${p.phase}: ${p.message}\n`)
        return
      }
      const total = p.totalBytes ?? 0
      const seconds = Math.max((Date.now() - started) / 1000, 0.001)
      const rate = p.bytes / seconds
      const payload = {
        phase: p.phase.padEnd(6),
        done: formatSize(p.bytes),
        all: p.totalBytes == null ? '?' : formatSize(p.totalBytes),
        rate: `${formatSize(rate)}/s`
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

/** Runs a long call with a progress bar fed by its progress events, removed when it ends. */
export async function withProgressBar<T> (enabled: boolean, run: (onProgress: (p: Progress) => void) => Promise<T>): Promise<T> {
  const bar = progressBar(enabled)
  try {
    return await run(p => { bar.update(p) })
  } finally {
    bar.stop()
  }
}
