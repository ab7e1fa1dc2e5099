/**
 * The daemon's output for a person at a terminal (`floe daemon --log-format pretty`, the
 * default on a TTY): one short line per event a person cares about — ready, peers, jobs
 * starting and ending, the provider's jobs — and warnings and errors in a line each. The
 * JSON log goes on to the log file in the home (`floe daemon --log-format json` also prints
 * it on stderr, as before). Events are log records with an `event` field (see humanLine).
 */

const LEVEL_WARN = 40

const short = (peer: unknown): string => {
  const text = String(peer ?? '')
  return text.length > 16 ? `${text.slice(0, 8)}…${text.slice(-4)}` : text
}

const seconds = (s: unknown): string => {
  const n = Number(s)
  if (!Number.isFinite(n)) return ''
  return n < 60 ? `${n.toFixed(1)}s` : n < 3600 ? `${Math.floor(n / 60)}m${Math.round(n % 60)}s` : `${Math.floor(n / 3600)}h${Math.round((n % 3600) / 60)}m`
}

const time = (at: unknown): string => {
  const d = typeof at === 'string' ? new Date(at) : new Date()
  return Number.isNaN(d.getTime()) ? '' : d.toTimeString().slice(0, 8)
}

/** The human line of one JSON log record, or null when a person need not see it. */
export function humanLine (record: Record<string, any>): string | null {
  const at = time(record.time)
  const line = (text: string): string => `${at}  ${text}`
  switch (record.event) {
    case 'ready': {
      const api = String(record.api ?? '').replace(/^https?:\/\//, '').replace(/\/$/, '')
      return line(`floe ready — peer ${short(record.peerId)}, API ${api}; web UI: run \`floe ui\``)
    }
    case 'stopping': return line('floe stopping…')
    case 'peer.connected': return line(`peer ${short(record.peer)} connected`)
    case 'job.started': return line(`job ${record.ref} started on ${record.provider === record.self ? 'this node' : short(record.provider)}`)
    case 'job.ended': return line(`job ${record.ref} ${record.state}${record.seconds != null ? ` in ${seconds(record.seconds)}` : ''}${record.reason != null ? ` (${record.reason})` : ''}`)
    case 'provider.job':
      if (record.state === 'running') return line(`running job ${short(record.jobId)} for ${short(record.client)}`)
      if (['success', 'failed', 'timeout', 'stopped', 'lost'].includes(record.state)) return line(`job ${short(record.jobId)} for ${short(record.client)} ended: ${record.state}`)
      return null
    case 'notify.failed': return line(`warning: ${record.msg}: ${record.err ?? ''}`)
  }
  if (typeof record.level === 'number' && record.level >= LEVEL_WARN) {
    const detail = record.err?.message ?? record.err ?? record.reason
    return line(`${record.level >= 50 ? 'error' : 'warning'}: ${record.msg ?? ''}${detail != null ? ` (${typeof detail === 'string' ? detail : JSON.stringify(detail)})` : ''}`)
  }
  return null
}

/** A pino destination that writes the human lines of what it is given to `out`. */
export function prettyDestination (out: { write: (text: string) => unknown } = process.stdout): { write: (line: string) => boolean } {
  return {
    write (text: string): boolean {
      for (const raw of text.split('\n')) {
        if (raw === '') continue
        let record: Record<string, any>
        try {
          record = JSON.parse(raw)
        } catch {
          continue
        }
        const human = humanLine(record)
        if (human != null) out.write(human + '\n')
      }
      return true
    }
  }
}
