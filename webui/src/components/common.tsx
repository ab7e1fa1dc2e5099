import { useEffect, useLayoutEffect, type ReactNode } from 'react'

/** `floe COMMAND` as the daemon's messages name them for the CLI's users. */
const CLI = /\bfloe (?:run|init|projects?|data|env|workspace|shell|logs|gc|billing|providers?|ui|connect|budget|status|jobs|stop|rerun|serve|market|offers?)\b/

/**
 * The API's message as the page shows it: no error class name, and without the parts that
 * tell a CLI user which `floe …` command to run (the page has its own buttons), starting
 * with a capital.
 */
export function messageOf (error: Error): string {
  let text = error.message.replace(/^[A-Z][A-Za-z]*Error:\s*/, '')
  // "(floe env ls)", "(… floe workspace restart X --env NAME …)"
  text = text.replace(/\s*\([^()]*\)/g, part => CLI.test(part) ? '' : part)
  // "…; see floe data ls", "…; restart it with floe workspace restart X"
  const [first = '', ...rest] = text.split(/;\s+/)
  text = [first.replace(/:\s*floe \S.*$/, ''), ...rest.filter(part => !CLI.test(part))].join('; ')
  text = text.replace(/,?\s*(?:or )?see its log: floe logs \S+$/, '')
  // a sentence starts with a capital; a file name, ref or command that starts it is left as written (floe.yml:2: …)
  return /^[a-z]+[,]?(\s|$)/.test(text) ? text.charAt(0).toUpperCase() + text.slice(1) : text
}

/** The API's message, in a box a screen reader announces. */
export function ErrorBox ({ error }: { error: Error | undefined }): ReactNode {
  if (error == null) return null
  return <div className='error' role='alert'>{messageOf(error)}</div>
}

/** What to do when there is nothing to show. */
export function Empty ({ children }: { children: ReactNode }): ReactNode {
  return <div className='empty'>{children}</div>
}

export function Loading (): ReactNode {
  return <p className='muted'>Loading…</p>
}

export function StatusBadge ({ state }: { state: string }): ReactNode {
  return <span className={`badge badge-${state}`}>{state}</span>
}

/** A monospace value that is easy to copy (CIDs, peer ids). */
export function Mono ({ children, title }: { children: ReactNode, title?: string }): ReactNode {
  return <code className='mono' title={title}>{children}</code>
}

/** The tab's title: "TITLE — floe". */
export function titleOf (title: string): string {
  return title === '' ? 'floe' : `${title} — floe`
}

/** Sets the tab's title while the page shows (after the route's default one, which App sets first). */
export function useTitle (title: string): void {
  useEffect(() => { document.title = titleOf(title) }, [title])
}

/** A route's default title, set before any page's own (layout effects run before effects). */
export function RouteTitle ({ title, children }: { title: string, children: ReactNode }): ReactNode {
  useLayoutEffect(() => { document.title = titleOf(title) }, [title])
  return children
}

