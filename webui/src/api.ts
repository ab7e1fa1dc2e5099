import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { createApiClient, type ApiClient } from '../../client/api-client.js'

/**
 * Whether the daemon answers: every request tells. While it does not, the page shows one
 * banner (App) and keeps the data it has, instead of an error in each box.
 */
const connection = (() => {
  let lostSince: number | null = null
  const listeners = new Set<() => void>()
  const set = (value: number | null): void => {
    if ((value == null) === (lostSince == null)) return
    lostSince = value
    for (const listener of listeners) listener()
  }
  return {
    lost: () => { set(lostSince ?? Date.now()) },
    answered: () => { set(null) },
    lostSince: () => lostSince,
    subscribe: (listener: () => void) => { listeners.add(listener); return () => { listeners.delete(listener) } }
  }
})()

/** Since when (ms) the daemon has not answered, or null while it does. */
export function useDaemonLost (): number | null {
  return useSyncExternalStore(connection.subscribe, connection.lostSince)
}

/** Whether an error means the daemon did not answer at all (then the banner says so, once). */
export function isConnectionError (err: unknown): boolean {
  const e = err as { name?: string, message?: string } | undefined
  return e?.name === 'DaemonNotRunningError' || (e?.name === 'TypeError' && /fetch|network/i.test(e.message ?? ''))
}

/** The same typed client the CLI uses; in the browser the session cookie signs requests. */
export const api: ApiClient = createApiClient({
  url: window.location.origin,
  fetch: async (url, init) => {
    try {
      const response = await fetch(url, init as RequestInit)
      connection.answered()
      return response as never
    } catch (err) {
      if ((init as RequestInit).signal?.aborted !== true) connection.lost()
      throw err
    }
  }
})

/** Notes a stream (a followed log) that broke off because the daemon went away. */
export function noteFailure (err: unknown): void {
  if (isConnectionError(err)) connection.lost()
}

export interface Loaded<T> {
  data: T | undefined
  error: Error | undefined
  loading: boolean
  reload: () => void
}

/**
 * Loads `fetcher`'s result, again whenever `deps` change and every `refreshMs` (live
 * tables); a failed refresh keeps the last data and shows the error.
 */
export function useLoad<T> (fetcher: (signal: AbortSignal) => Promise<T>, deps: unknown[], refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<Error>()
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  const latest = useRef(fetcher)
  latest.current = fetcher
  useEffect(() => {
    const controller = new AbortController()
    setLoading(true)
    latest.current(controller.signal)
      .then(value => { if (!controller.signal.aborted) { setData(value); setError(undefined) } })
      // the daemon not answering is the banner's to say; the last data stays
      .catch((err: Error) => { if (!controller.signal.aborted) setError(isConnectionError(err) ? undefined : err) })
      .finally(() => { if (!controller.signal.aborted) setLoading(false) })
    return () => { controller.abort() }
  }, [...deps, tick])
  useEffect(() => {
    if (refreshMs == null) return
    const timer = setInterval(() => { setTick(t => t + 1) }, refreshMs)
    return () => { clearInterval(timer) }
  }, [refreshMs, ...deps])
  const reload = useCallback(() => { setTick(t => t + 1) }, [])
  return { data, error, loading, reload }
}

/** Whether an error means "not signed in". */
export function isUnauthorized (err: unknown): boolean {
  return (err as { status?: number } | undefined)?.status === 401
}

/** A button's work: busy while it runs, its error (the API's message) kept to show. */
export function useAction (): { busy: boolean, error: Error | undefined, run: (work: () => Promise<void>) => Promise<void> } {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<Error>()
  const run = useCallback(async (work: () => Promise<void>): Promise<void> => {
    setBusy(true)
    setError(undefined)
    try {
      await work()
    } catch (err) {
      noteFailure(err)
      setError(err as Error)
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, run }
}
