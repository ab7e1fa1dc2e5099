import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import type { LogLine } from '../../../protocol/jobs/job.js'

/** Lines kept on the page; older ones stay in `floe logs`. */
const MAX_LINES = 20_000

/**
 * A job's log as it is pushed: follows the end (scrolls with new lines) unless paused, and
 * filters by a search text.
 */
export function LogView ({ lines, live }: { lines: LogLine[], live: boolean }): ReactNode {
  const [paused, setPaused] = useState<LogLine[] | null>(null)
  const [search, setSearch] = useState('')
  const box = useRef<HTMLPreElement>(null)
  const shown = paused ?? lines
  const filtered = useMemo(() => {
    const needle = search.trim().toLowerCase()
    const kept = shown.length > MAX_LINES ? shown.slice(-MAX_LINES) : shown
    return needle === '' ? kept : kept.filter(line => line.line.toLowerCase().includes(needle))
  }, [shown, search])
  useEffect(() => {
    if (paused == null && box.current != null) box.current.scrollTop = box.current.scrollHeight
  }, [filtered, paused])
  return (
    <section className='logs' aria-label='log'>
      <div className='toolbar'>
        <button type='button' aria-pressed={paused != null} onClick={() => { setPaused(paused == null ? [...lines] : null) }}>{paused == null ? 'Pause' : 'Follow'}</button>
        <label htmlFor='log-search' className='sr-only'>Search the log</label>
        <input id='log-search' type='search' placeholder='Search the log' value={search} onChange={e => { setSearch(e.target.value) }} />
        <span className='muted' aria-live='polite'>
          {filtered.length}{search !== '' ? ` of ${shown.length}` : ''} line{filtered.length === 1 ? '' : 's'}{live ? (paused == null ? ' · live' : ` · paused (${lines.length - paused.length} new)`) : ''}
        </span>
      </div>
      <pre ref={box} className='log' tabIndex={0} data-testid='log'>
        {filtered.length === 0
          ? <span className='muted'>{live ? 'Waiting for output…' : 'No log lines.'}</span>
          : filtered.map(line => <span key={line.seq} className={`line ${line.stream}`}>{line.line}{'\n'}</span>)}
      </pre>
    </section>
  )
}
