import type { ReactNode } from 'react'

/** The API's own message, in a box a screen reader announces. */
export function ErrorBox ({ error }: { error: Error | undefined }): ReactNode {
  if (error == null) return null
  return <div className='error' role='alert'><strong>{error.name === 'Error' ? 'Error' : error.name}:</strong> {error.message}</div>
}

/** What to do when there is nothing to show. */
export function Empty ({ children }: { children: ReactNode }): ReactNode {
  return <div className='empty'>{children}</div>
}

export function Loading (): ReactNode {
  return <p className='muted' aria-live='polite'>Loading…</p>
}

export function StatusBadge ({ state }: { state: string }): ReactNode {
  return <span className={`badge badge-${state}`}>{state}</span>
}

/** A monospace value that is easy to copy (CIDs, peer ids). */
export function Mono ({ children, title }: { children: ReactNode, title?: string }): ReactNode {
  return <code className='mono' title={title}>{children}</code>
}
