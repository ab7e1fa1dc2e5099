/**
 * An AbortSignal that fires when `touch()` has not been called for `ms`: one timer for a whole
 * transfer rather than one per frame.
 */
export interface IdleTimer {
  signal: AbortSignal
  touch(): void
  clear(): void
}

export function idleTimer (ms: number, reason: () => Error): IdleTimer {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort(reason()) }, ms)
  timer.unref()
  return {
    signal: controller.signal,
    touch () { timer.refresh() },
    clear () { clearTimeout(timer) }
  }
}
