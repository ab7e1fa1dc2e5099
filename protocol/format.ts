import type { JobView } from './jobs/view.js'
import { formatDuration } from './market/requirements.js'

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

/** Credits: `0.0612`, `12.5` */
export const money = (n: number): string => n.toFixed(n >= 10 ? 2 : 4).replace(/0+$/, '').replace(/\.$/, '')

export function shortPeer (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 6)}…${peer.slice(-6)}` : peer
}

/** How long the job ran (its receipt's run time), or has run so far; `-` before it starts. */
export function jobDuration (job: JobView, now = Date.now()): string {
  if (job.receipt != null) return formatDuration(Math.round(job.receipt.runMs / 1000)) || '0s'
  const started = job.states.find(s => s.state === 'running')?.at
  if (started == null) return '-'
  return formatDuration(Math.round((now - Date.parse(started)) / 1000)) || '0s'
}

/** `loss=0.07 acc=0.91`: the latest value of each metric; `-` with none */
export function latestMetrics (job: JobView): string {
  return Object.entries(job.metrics).map(([name, point]) => `${name}=${Number(point.value.toPrecision(4))}`).join(' ') || '-'
}
