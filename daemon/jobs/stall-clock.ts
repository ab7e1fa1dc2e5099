/** How often the clock looks at the time: a tick this much later than due is a stall. */
const TICK_MS = 250
/** Lateness below this is ordinary timer jitter and garbage collection, not a stall. */
const MIN_STALL_MS = 500

/**
 * Measures this process's own event-loop stalls (a memory flood, a long GC, SIGSTOP), so that
 * time the daemon itself was frozen is not counted as a peer's silence: while the loop stood
 * still the peer's messages waited in the socket, unread. `quietMs(since)` is the time since
 * `since` less what was stalled meanwhile; a stall still under way (its tick not yet run)
 * counts too, so the answer does not depend on which timer runs first after one.
 */
export function stallClock () {
  /** [when the stall was noticed, how long] */
  const stalls: Array<[number, number]> = []
  let last = Date.now()
  const lateness = (now: number): number => {
    const late = now - last - TICK_MS
    return late > MIN_STALL_MS ? late : 0
  }
  const timer = setInterval(() => {
    const now = Date.now()
    const late = lateness(now)
    if (late > 0) stalls.push([now, late])
    // only stalls within the last hour can matter to a silence window
    while (stalls.length > 0 && (stalls[0] as [number, number])[0] < now - 3_600_000) stalls.shift()
    last = now
  }, TICK_MS)
  timer.unref()
  return {
    quietMs (since: number, now = Date.now()): number {
      let stalled = lateness(now)
      for (const [at, ms] of stalls) if (at > since) stalled += Math.min(ms, at - since)
      return Math.max(0, now - since - stalled)
    },
    stop (): void {
      clearInterval(timer)
    }
  }
}
