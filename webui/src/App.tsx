import type { ReactNode } from 'react'
import { BrowserRouter, NavLink, Route, Routes } from 'react-router'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import { api, isUnauthorized, useLoad } from './api.js'
import { ErrorBox, Loading } from './components/common.js'
import { Billing } from './pages/Billing.js'
import { Compare } from './pages/Compare.js'
import { Datasets } from './pages/Datasets.js'
import { Job } from './pages/Job.js'
import { Launch } from './pages/Launch.js'
import { Market } from './pages/Market.js'
import { Node } from './pages/Node.js'
import { Project } from './pages/Project.js'
import { Projects } from './pages/Projects.js'
import { Running } from './pages/Running.js'
import { SignIn } from './pages/SignIn.js'
import { Workspace, Workspaces } from './pages/Workspaces.js'

function Layout ({ children, peerId }: { children: ReactNode, peerId: string }): ReactNode {
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
      {children}
    </>
  )
}

/** Signed in (a session cookie the API accepts) → the app; else the sign-in page, no data. */
export function App (): ReactNode {
  const me = useLoad(async signal => {
    const session = await (await fetch(RAW_PATHS.uiSession, { signal })).json() as { signedIn: boolean }
    return session.signedIn ? await api.call('id', {}, { signal }) : null
  }, [])
  if (me.data === null || (me.error != null && isUnauthorized(me.error))) return <SignIn />
  if (me.data == null) return <main id='main'>{me.error != null ? <ErrorBox error={me.error} /> : <Loading />}</main>
  return (
    <BrowserRouter>
      <Layout peerId={me.data.peerId}>
        <Routes>
          <Route path='/' element={<Projects />} />
          <Route path='/projects/:id' element={<Project />} />
          <Route path='/jobs/:ref' element={<Job />} />
          <Route path='/launch' element={<Launch />} />
          <Route path='/running' element={<Running />} />
          <Route path='/compare' element={<Compare />} />
          <Route path='/workspaces' element={<Workspaces />} />
          <Route path='/workspaces/:ref' element={<Workspace />} />
          <Route path='/datasets' element={<Datasets />} />
          <Route path='/market' element={<Market />} />
          <Route path='/billing' element={<Billing />} />
          <Route path='/node' element={<Node />} />
          <Route path='*' element={<main id='main'><h1>Not found</h1><p>No page here. <NavLink to='/'>Projects</NavLink></p></main>} />
        </Routes>
      </Layout>
    </BrowserRouter>
  )
}
