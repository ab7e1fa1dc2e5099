import type { Logger } from './log.js'
import type { NodeOptions } from './node.js'
import { startNode } from './node.js'

/** How long a graceful stop may take before the daemon exits anyway. */
export const STOP_GRACE_MS = 15_000

/** Errors whose message is for the user as it is: one line, no stack trace. */
const USER_ERRORS = new Set(['HomeLockedError', 'HomeFileError', 'ConfigError'])

/**
 * `floe daemon`: runs the node until SIGINT/SIGTERM. The first signal stops it gracefully
 * (API, libp2p, then the stores); a second one, or a stop that hangs, forces the exit.
 */
export async function runDaemon (options: NodeOptions): Promise<void> {
  const life = new AbortController()
  let log: Logger | undefined
  // Handlers go in before the node starts: a signal that comes while it starts (its API
  // may already answer) stops it as soon as it is up, rather than killing it half-made.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (life.signal.aborted) {
      log?.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    log?.info({ signal }, 'signal received: stopping gracefully (send it again to force)')
    life.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    let node
    try {
      node = await startNode(options)
    } catch (err: any) {
      const message = USER_ERRORS.has(err?.name) ? err.message : (err?.stack ?? String(err))
      process.stderr.write(`floe daemon: ${message}\n`)
      process.exitCode = 1
      return
    }
    log = node.log.child({ component: 'floe:daemon' })
    if (!life.signal.aborted) await new Promise<void>(resolve => life.signal.addEventListener('abort', () => resolve(), { once: true }))
    const force = setTimeout(() => {
      log?.error({ graceMs: STOP_GRACE_MS }, 'graceful stop took too long: exiting now')
      process.exit(1)
    }, STOP_GRACE_MS)
    force.unref()
    try {
      await node.stop()
    } finally {
      clearTimeout(force)
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
