import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { RAW_PATHS } from '../../../protocol/api/ui-routes.js'
import type { LogLine } from '../../../protocol/jobs/job.js'
import { api, noteFailure } from '../api.js'
import { ErrorBox } from './common.js'

/** Lines the page holds (the latest ones); the whole log is searched on the daemon and downloaded whole. */
export const MAX_LINES = 200_000
/** a line's height in the list (px): fixed, so a million lines scroll without measuring any */
const ROW = 19
const count = (n: number): string => n.toLocaleString('en-US')

/** A virtualised list of lines: only the rows in view are in the page. */
function Lines ({ lines, version, follow, label, empty }: { lines: LogLine[], version: number, follow: boolean, label: string, empty: string }): ReactNode {
  const box = useRef<HTMLDivElement>(null)
  const rows = useVirtualizer({ count: lines.length, getScrollElement: () => box.current, estimateSize: () => ROW, overscan: 20 })
  useEffect(() => {
    if (follow && lines.length > 0) rows.scrollToIndex(lines.length - 1, { align: 'end' })
  }, [version, follow, lines.length])
  return (
    <div ref={box} className='log' tabIndex={0} role='region' aria-label={label} data-testid='log' data-lines={lines.length}>
      {lines.length === 0
        ? <span className='muted'>{empty}</span>
        : (
          <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
            {rows.getVirtualItems().map(item => {
              const line = lines[item.index] as LogLine
              return <div key={item.key} className={`line ${line.stream}`} data-seq={line.seq} style={{ position: 'absolute', top: 0, left: 0, minWidth: '100%', height: ROW, transform: `translateY(${item.start}px)` }}>{line.line}</div>
            })}
          </div>
          )}
    </div>
  )
}

/** The daemon's search over the whole log: a page of matches at a time, then more from its cursor. */
function Search ({ jobRef, query }: { jobRef: string, query: string }): ReactNode {
  const [found, setFound] = useState<{ matches: LogLine[], next: number | null, scanned: number }>()
  const [version, setVersion] = useState(0)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<Error>()
  const controller = useRef<AbortController>(null)
  /** one search call at a time: a new query abandons the one before (its answer and its error) */
  const fetchPage = (after: number, before: LogLine[], scanned: number): void => {
    controller.current?.abort()
    const mine = new AbortController()
    controller.current = mine
    setBusy(true)
    setError(undefined)
    api.call('jobLogSearch', { ref: jobRef, query, after, limit: 500 }, { signal: mine.signal })
      .then(page => {
        if (mine.signal.aborted) return
        setFound({ matches: [...before, ...page.matches], next: page.next, scanned: scanned + page.scanned })
        setVersion(v => v + 1)
      })
      .catch((err: Error) => { if (!mine.signal.aborted) { noteFailure(err); setError(err) } })
      .finally(() => { if (!mine.signal.aborted) setBusy(false) })
  }
  useEffect(() => {
    setFound(undefined)
    fetchPage(0, [], 0)
    return () => { controller.current?.abort() }
  }, [jobRef, query])
  const more = (): void => { if (found?.next != null) fetchPage(found.next, found.matches, found.scanned) }
  return (
    <>
      <ErrorBox error={error} />
      <p className='muted' data-testid='search-summary'>
        {found == null
          ? (busy ? 'Searching the whole log…' : '')
          : `${count(found.matches.length)} matching line${found.matches.length === 1 ? '' : 's'}${found.next == null ? ' in the whole log' : ` in the first ${count(found.next)} lines`}`}
        {found?.next != null && <> <button type='button' className='link' disabled={busy} onClick={more}>Search further</button></>}
      </p>
      {/* one polite announcement per search, not one per line */}
      <span className='sr-only' aria-live='polite'>{found == null ? '' : `${found.matches.length} matching lines`}</span>
      <Lines lines={found?.matches ?? []} version={version} follow={false} label='matching log lines' empty={busy ? 'Searching…' : 'No line contains that text.'} />
    </>
  )
}

/**
 * A job's log: the latest lines as they are pushed (virtualised: a million lines scroll like
 * ten), following the end unless paused while the job runs; a search runs on the daemon over
 * the whole log; the whole log downloads as text.
 */
export function LogView ({ jobRef, lines, version, total, live }: { jobRef: string, lines: LogLine[], version: number, total: number, live: boolean }): ReactNode {
  const [paused, setPaused] = useState(false)
  const [typed, setTyped] = useState('')
  const [query, setQuery] = useState('')
  useEffect(() => {
    const timer = setTimeout(() => { setQuery(typed.trim()) }, 300)
    return () => { clearTimeout(timer) }
  }, [typed])
  useEffect(() => { if (!live) setPaused(false) }, [live])
  const held = lines.length
  const first = lines[0]?.seq ?? 0
  const last = lines.at(-1)?.seq ?? 0
  const all = Math.max(total, last)
  return (
    <section className='logs' aria-label='log'>
      <div className='toolbar'>
        {live && <button type='button' aria-pressed={paused} onClick={() => { setPaused(!paused) }}>{paused ? 'Follow' : 'Pause'}</button>}
        <label htmlFor='log-search' className='sr-only'>Search the whole log</label>
        <input id='log-search' type='search' placeholder='Search the whole log' value={typed} onChange={e => { setTyped(e.target.value) }} onKeyDown={e => { if (e.key === 'Enter') setQuery(typed.trim()) }} />
        <span className='muted' data-testid='log-count'>
          {count(all)} line{all === 1 ? '' : 's'}
          {held > 0 && held < all && ` · showing the latest ${count(held)} (lines ${count(first)}–${count(last)}); search and download cover all`}
          {live ? (paused ? ' · paused' : ' · live') : ''}
        </span>
        <a className='button' href={`${RAW_PATHS.jobLogText}?${new URLSearchParams({ ref: jobRef }).toString()}`} download>Download full log</a>
      </div>
      {/* announced once, when the log ends: not each line or count */}
      <span className='sr-only' aria-live='polite'>{live ? '' : `Log complete: ${count(all)} lines.`}</span>
      {query !== ''
        ? <Search jobRef={jobRef} query={query} />
        : <Lines lines={lines} version={version} follow={!paused} label='log lines' empty={live ? 'Waiting for output…' : 'No log lines.'} />}
    </section>
  )
}
