import { formatDuration, formatSize } from '../../protocol/market/requirements.js'
import type { JobView } from '../../protocol/jobs/view.js'

export { formatSize }

/** `42 s ago`, `3 min ago`… */
export function ago (iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`
  return `${Math.round(seconds / 86400)} d ago`
}

export function money (credits: number): string {
  return credits === 0 ? '0' : credits < 0.01 ? credits.toFixed(4) : credits.toFixed(2)
}

/** How long the job ran (its receipt's run time), or runs so far. */
export function jobDuration (job: JobView, now = Date.now()): string {
  if (job.receipt != null) return formatDuration(Math.round(job.receipt.runMs / 1000)) || '0s'
  const started = job.states.find(s => s.state === 'running')?.at
  if (started == null) return '–'
  return formatDuration(Math.round((now - Date.parse(started)) / 1000)) || '0s'
}

export function latestMetrics (job: JobView): string {
  return Object.entries(job.metrics).map(([name, point]) => `${name}=${Number(point.value.toPrecision(4))}`).join(' ')
}

export function shortPeer (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 6)}…${peer.slice(-6)}` : peer
}

export const FINAL = new Set(['success', 'failed', 'timeout', 'stopped', 'lost'])
