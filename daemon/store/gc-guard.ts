/**
 * Garbage collection must not run while content is being written but not yet pinned (an
 * upload between import and record, a fetch, a CAR import): writers hold the guard shared,
 * gc holds it alone.
 */
export interface GcGuard {
  shared<T>(run: () => Promise<T>): Promise<T>
  exclusive<T>(run: () => Promise<T>): Promise<T>
}

export function gcGuard (): GcGuard {
  let writers = 0
  let collecting: Promise<unknown> | undefined
  let idle: (() => void) | undefined
  return {
    async shared (run) {
      while (collecting != null) await collecting.catch(() => {})
      writers++
      try {
        return await run()
      } finally {
        writers--
        if (writers === 0) idle?.()
      }
    },
    async exclusive (run) {
      while (collecting != null) await collecting.catch(() => {})
      const job = (async () => {
        if (writers > 0) await new Promise<void>(resolve => { idle = resolve })
        idle = undefined
        return await run()
      })()
      collecting = job
      try {
        return await job
      } finally {
        collecting = undefined
      }
    }
  }
}
