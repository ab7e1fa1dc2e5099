import type { JobView } from './jobs/view.js'
import { formatDuration, formatSize } from './market/requirements.js'
import { shellQuote } from './shell-words.js'

/**
 * How values read for people, the same in the CLI and the web UI (no Node-only imports:
 * the web UI bundles this).
 */

/** `42 s ago`, `3 min ago`, … */
export function ago (iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86400)} d ago`
}

/** A running workspace's idle stop: `in 42 s`, `in 12 min`, `in 2 h`; `-` when not known (the CLI and the web UI). */
export function idleCountdown (job: Pick<JobView, 'idleStopAt' | 'state'>, now = Date.now()): string {
  if (job.idleStopAt == null || job.state !== 'running') return '-'
  const seconds = Math.max(0, Math.round((Date.parse(job.idleStopAt) - now) / 1000))
  if (seconds < 90) return `in ${seconds} s`
  if (seconds < 90 * 60) return `in ${Math.round(seconds / 60)} min`
  if (seconds < 36 * 3600) return `in ${Math.round(seconds / 3600)} h`
  return `in ${Math.round(seconds / 86400)} d`
}

/** Credits: `0.0612`, `12.5` */
export const money = (n: number): string => n.toFixed(n >= 10 ? 2 : 4).replace(/0+$/, '').replace(/\.$/, '')

export function shortPeer (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 6)}…${peer.slice(-6)}` : peer
}

/** How long the job ran (its receipt's run time), or has run so far; `-` before it starts. */
export function jobDuration (job: JobView, now = Date.now()): string {
  if (job.receipt != null) return runTime(job.receipt.runMs)
  const started = job.states.find(s => s.state === 'running')?.at
  if (started == null) return '-'
  return runTime(now - Date.parse(started))
}

/** `<1s`, `2.4s`, `1m5s`: a short job reads as short, not as `0s` */
export function runTime (ms: number): string {
  if (ms < 1000) return '<1s'
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`
  return formatDuration(Math.round(ms / 1000))
}

/** A peak memory of 0 is no sample taken (the job ended before the first), not 0 bytes used. */
export function peakMemory (bytes: number): string {
  return bytes > 0 ? formatSize(bytes) : 'not measured (ended before the first sample)'
}

/**
 * A job's command as a person would type it: each argument shell-quoted where it needs it,
 * and a `sh -c SCRIPT` (how floe runs a command given as one string) as the script itself.
 */
export function displayCommand (command: readonly string[]): string {
  if (command.length === 3 && command[0] === 'sh' && command[1] === '-c') return command[2] as string
  return shellQuote(command)
}

/** `loss=0.07 acc=0.91`: the latest value of each metric; `-` with none */
export function latestMetrics (job: JobView): string {
  return Object.entries(job.metrics).map(([name, point]) => `${name}=${Number(point.value.toPrecision(4))}`).join(' ') || '-'
}
