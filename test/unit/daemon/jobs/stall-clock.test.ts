import { describe, expect, it } from 'vitest'
import { stallClock } from '../../../../daemon/jobs/stall-clock.js'

/** Blocks the event loop, as a memory flood or SIGSTOP does. */
function freeze (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until);
}

describe('the stall clock', () => {
  it('counts time as quiet unless the loop itself stood still, even before its own tick has run', async () => {
    const clock = stallClock()
    try {
      const since = Date.now()
      await new Promise(resolve => setTimeout(resolve, 600))
      expect(clock.quietMs(since)).toBeGreaterThanOrEqual(550)
      const before = Date.now()
      freeze(1_500)
      // no timer has run since the freeze: it is still counted as a stall, not as quiet
      expect(clock.quietMs(before)).toBeLessThan(600)
      await new Promise(resolve => setTimeout(resolve, 300))
      expect(clock.quietMs(before)).toBeLessThan(1_000)
      expect(clock.quietMs(Date.now() - 100)).toBeLessThanOrEqual(150)
    } finally {
      clock.stop()
    }
  })
})
