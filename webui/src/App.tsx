import { lazy, Suspense, useEffect, useRef, type LazyExoticComponent, type ReactNode } from 'react'
import { BrowserRouter, NavLink, Route, Routes, useLocation } from 'react-router'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { api, isUnauthorized, useDaemonLost, useLoad } from './api.js'
import { ErrorBox, Loading, RouteTitle, useTitle } from './components/common.js'
import { SignIn } from './pages/SignIn.js'

/** A page's module, loaded when first shown (each page is its own chunk: xterm only where a terminal is). */
type LazyPage = LazyExoticComponent<() => ReactNode> & { preload: () => Promise<unknown> }
function page<K extends string> (load: () => Promise<Record<K, () => ReactNode>>, name: K): LazyPage {
  return Object.assign(lazy(async () => ({ default: (await load())[name] })), { preload: load })
}

/**
 * The app's pages: path, the tab's title until the page sets its own, and the page. A new page
 * is one more line here (and one in the nav below if it has a place there).
 */
export const PAGES: Array<{ path: string, title: string, Page: LazyPage }> = [
  { path: '/', title: 'Projects', Page: page(async () => await import('./pages/Projects.js'), 'Projects') },
  { path: '/projects/:id', title: 'Project', Page: page(async () => await import('./pages/Project.js'), 'Project') },
  { path: '/jobs/:ref', title: 'Job', Page: page(async () => await import('./pages/Job.js'), 'Job') },
  { path: '/launch', title: 'Launch a job', Page: page(async () => await import('./pages/Launch.js'), 'Launch') },
  { path: '/running', title: 'Running now', Page: page(async () => await import('./pages/Running.js'), 'Running') },
  { path: '/compare', title: 'Compare runs', Page: page(async () => await import('./pages/Compare.js'), 'Compare') },
  { path: '/workspaces', title: 'Workspaces', Page: page(async () => await import('./pages/Workspaces.js'), 'Workspaces') },
  { path: '/workspaces/:ref', title: 'Workspace', Page: page(async () => await import('./pages/Workspaces.js'), 'Workspace') },
  { path: '/datasets', title: 'Datasets', Page: page(async () => await import('./pages/Datasets.js'), 'Datasets') },
  { path: '/market', title: 'Market', Page: page(async () => await import('./pages/Market.js'), 'Market') },
  { path: '/billing', title: 'Billing', Page: page(async () => await import('./pages/Billing.js'), 'Billing') },
  { path: '/node', title: 'Node', Page: page(async () => await import('./pages/Node.js'), 'Node') }
]

function NotFound (): ReactNode {
  useTitle('Not found')
  return <main id='main'><h1>Not found</h1><p>No page here. <NavLink to='/'>Projects</NavLink></p></main>
}

/**
 * After a navigation (not the first load), focus goes to the new page's heading, so a
 * keyboard or screen reader user starts there; it waits for a lazily loaded page's heading.
 */
function useFocusOnNavigate (): void {
  const { pathname } = useLocation()
  const first = useRef(true)
  useEffect(() => {
    if (first.current) { first.current = false; return }
    let frames = 0
    let timer = 0
    const focus = (): void => {
      const heading = document.querySelector<HTMLElement>('main h1')
      if (heading == null) { if (++frames < 120) timer = requestAnimationFrame(focus); return }
      if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1')
      heading.focus({ preventScroll: false })
    }
    timer = requestAnimationFrame(focus)
    return () => { cancelAnimationFrame(timer) }
  }, [pathname])
}

/** One banner while the daemon does not answer; the pages keep what they showed. */
function DaemonBanner (): ReactNode {
  const lost = useDaemonLost()
  if (lost == null) return null
  return (
    <div className='banner' role='alert'>
      The daemon at {window.location.host} is not answering (since {new Date(lost).toLocaleTimeString()}): what this page shows may be out of date. It reconnects by itself once the daemon is back.
    </div>
  )
}

function Layout ({ children, peerId }: { children: ReactNode, peerId: string }): ReactNode {
  useFocusOnNavigate()
  return (
    <>
      <a className='skip' href='#main'>Skip to content</a>
      <header className='top'>
        <span className='brand'>floe</span>
        <nav aria-label='main'>
          <NavLink to='/' end>Projects</NavLink>
          <NavLink to='/launch'>Launch</NavLink>
          <NavLink to='/running'>Running</NavLink>
          <NavLink to='/workspaces'>Workspaces</NavLink>
          <NavLink to='/datasets'>Datasets</NavLink>
          <NavLink to='/market'>Market</NavLink>
          <NavLink to='/billing'>Billing</NavLink>
          <NavLink to='/node'>Node</NavLink>
        </nav>
        <span className='spacer' />
        <span className='muted peer' title={peerId}>{peerId.slice(-8)}</span>
        <form method='post' action={RAW_PATHS.uiSignOut}><button type='submit' className='link'>Sign out</button></form>
      </header>
      <DaemonBanner />
      {children}
    </>
  )
}

/** Asked once, as the script starts (main.tsx), beside loading the first page's chunk. */
let sessionCheck: Promise<boolean> | undefined
export function checkSession (): Promise<boolean> {
  sessionCheck ??= fetch(RAW_PATHS.uiSession).then(async r => (await r.json() as { signedIn: boolean }).signedIn)
  return sessionCheck
}

/** Signed in (a session cookie the API accepts) → the app; else the sign-in page, no data. */
export function App (): ReactNode {
  const me = useLoad(async signal => await checkSession() ? await api.call('id', {}, { signal }) : null, [])
  if (me.data === null || (me.error != null && isUnauthorized(me.error))) return <RouteTitle title='Sign in'><SignIn /></RouteTitle>
  if (me.data == null) return <main id='main'>{me.error != null ? <ErrorBox error={me.error} /> : <Loading />}</main>
  return (
    <BrowserRouter>
      <Layout peerId={me.data.peerId}>
        <Suspense fallback={<main id='main'><Loading /></main>}>
          <Routes>
            {PAGES.map(({ path, title, Page }) => <Route key={path} path={path} element={<RouteTitle title={title}><Page /></RouteTitle>} />)}
            <Route path='*' element={<NotFound />} />
          </Routes>
        </Suspense>
      </Layout>
    </BrowserRouter>
  )
}
