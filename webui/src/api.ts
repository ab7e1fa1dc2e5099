import { useCallback, useEffect, useRef, useState } from 'react'
import { createApiClient, type ApiClient } from '../../client/api-client.js'

/** The same typed client the CLI uses; in the browser the session cookie signs requests. */
export const api: ApiClient = createApiClient({ url: window.location.origin })

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
      .catch((err: Error) => { if (!controller.signal.aborted) setError(err) })
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
      setError(err as Error)
    } finally {
      setBusy(false)
    }
  }, [])
  return { busy, error, run }
}
