import { FitAddon } from '@xterm/addon-fit'
import { Terminal as XTerm } from '@xterm/xterm'
import '@xterm/xterm/css/xterm.css'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { SHELL_PATH, ShellControl, shellInputFrames } from '../../../protocol/api/workspace-routes.js'
import { ErrorBox } from './common.js'

type Phase =
  | { phase: 'connecting' }
  | { phase: 'ready' }
  | { phase: 'exited', code: number | null }
  | { phase: 'failed', message: string }

const encoder = new TextEncoder()

/** The terminal's WebSocket URL: same origin, so the session cookie signs it. */
function shellUrl (ref: string, cols: number, rows: number): string {
  const url = new URL(SHELL_PATH, window.location.origin.replace(/^http/, 'ws'))
  url.searchParams.set('ref', ref)
  url.searchParams.set('cols', String(cols))
  url.searchParams.set('rows', String(rows))
  return url.toString()
}

/**
 * A terminal in a running workspace (xterm.js on the daemon's shell WebSocket, as `floe
 * shell`): fitted to its panel, the remote side resized with it; when the shell ends or the
 * connection fails it says so and offers to reconnect. Keys go to the shell, Tab included;
 * Ctrl+M (or the button) makes Tab move the focus instead, so the keyboard can leave it.
 */
export function Terminal ({ workspace }: { workspace: string }): ReactNode {
  const host = useRef<HTMLDivElement>(null)
  const [session, setSession] = useState(0)
  const [phase, setPhase] = useState<Phase>({ phase: 'connecting' })
  const [tabMovesFocus, setTabMovesFocus] = useState(false)
  const tabRef = useRef(tabMovesFocus)
  tabRef.current = tabMovesFocus

  useEffect(() => {
    const element = host.current
    if (element == null) return
    setPhase({ phase: 'connecting' })
    const term = new XTerm({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0e1117', foreground: '#d0d7de', cursor: '#d0d7de' }
    })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.attachCustomKeyEventHandler(event => {
      if (event.ctrlKey && !event.altKey && !event.shiftKey && event.key.toLowerCase() === 'm') {
        if (event.type === 'keydown') setTabMovesFocus(on => !on)
        event.preventDefault()
        return false
      }
      // false: xterm leaves the key alone, and the browser moves the focus
      return !(tabRef.current && event.key === 'Tab')
    })
    term.open(element)
    const refit = (): void => {
      // a panel not laid out (hidden, zero size) has no dimensions to fit to
      if (element.clientWidth > 0 && element.clientHeight > 0) fit.fit()
      // the size the shell was told, for tests and inspection
      element.dataset.cols = String(term.cols)
      element.dataset.rows = String(term.rows)
    }
    refit()

    const ws = new WebSocket(shellUrl(workspace, term.cols, term.rows))
    ws.binaryType = 'arraybuffer'
    let ready = false
    let ended = false
    const pending: Array<Uint8Array<ArrayBuffer>> = []
    const send = (bytes: Uint8Array<ArrayBuffer>): void => {
      if (ended) return
      // a paste is one onData call: it goes in frames the daemon takes (at most 128 KiB each)
      for (const frame of shellInputFrames(bytes)) {
        if (ready && ws.readyState === WebSocket.OPEN) ws.send(frame)
        else pending.push(frame)
      }
    }
    const sendSize = (): void => {
      if (ready && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }))
    }
    const end = (next: Phase): void => {
      if (ended) return
      ended = true
      term.options.disableStdin = true
      term.options.cursorBlink = false
      setPhase(next)
    }

    ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      if (typeof event.data !== 'string') {
        term.write(new Uint8Array(event.data))
        return
      }
      const parsed = ShellControl.safeParse(JSON.parse(event.data))
      if (!parsed.success) return
      const message = parsed.data
      if (message.type === 'ready') {
        ready = true
        setPhase({ phase: 'ready' })
        sendSize()
        for (const bytes of pending.splice(0)) ws.send(bytes)
        if (session > 0) term.focus()
      } else if (message.type === 'exit') {
        end({ phase: 'exited', code: message.code })
      } else if (message.type === 'error') {
        end({ phase: 'failed', message: message.message })
      }
    }
    ws.onclose = (event: CloseEvent) => {
      end(ready
        ? { phase: 'failed', message: `the terminal's connection closed (WebSocket code ${event.code}${event.reason !== '' ? `: ${event.reason}` : ''})` }
        : { phase: 'failed', message: 'could not open the terminal: the daemon refused the connection or is not reachable (sign in again if your session ended)' })
    }

    const onData = term.onData(data => { send(encoder.encode(data)) })
    const onBinary = term.onBinary(data => { send(Uint8Array.from(data, c => c.charCodeAt(0) & 0xff)) })
    const onResize = term.onResize(() => { sendSize() })
    let frame = 0
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame)
      frame = requestAnimationFrame(refit)
    })
    observer.observe(element)

    return () => {
      ended = true
      observer.disconnect()
      cancelAnimationFrame(frame)
      onData.dispose()
      onBinary.dispose()
      onResize.dispose()
      ws.onmessage = null
      ws.onclose = null
      // closing a socket still connecting makes the browser log an error: close it once open
      if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => { ws.close(1000) }
      else ws.close(1000)
      term.dispose()
    }
  }, [workspace, session])

  const reconnect = (): void => { setSession(s => s + 1) }
  return (
    <section className='terminal' aria-label={`terminal in ${workspace}`}>
      <div className='toolbar'>
        <span className='muted' role='status' data-testid='terminal-status'>
          {phase.phase === 'connecting' && 'Connecting…'}
          {phase.phase === 'ready' && 'Connected'}
          {phase.phase === 'exited' && `exited with ${phase.code ?? 'no code'}`}
          {phase.phase === 'failed' && 'Disconnected'}
        </span>
        {(phase.phase === 'exited' || phase.phase === 'failed') && <button type='button' className='primary' onClick={reconnect}>Reconnect</button>}
        <span className='spacer' />
        <button type='button' aria-pressed={tabMovesFocus} onClick={() => { setTabMovesFocus(!tabMovesFocus) }} title='Ctrl+M in the terminal switches this too'>Tab moves focus</button>
      </div>
      {phase.phase === 'failed' && <ErrorBox error={new Error(phase.message)} />}
      <div ref={host} className='terminal-screen' data-testid='terminal' />
      <p className='muted hint'>Keys go to the shell{tabMovesFocus ? ', except Tab, which moves the focus' : ', Tab included'}; Ctrl+M switches.</p>
    </section>
  )
}
