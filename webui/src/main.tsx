import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { matchPath } from 'react-router'
import { App, checkSession, PAGES } from './App.js'
import './styles.css'
import './features.css'

// the session check and the first page's chunk load side by side, not one after the other
void checkSession().catch(() => {})
void PAGES.find(p => matchPath(p.path, window.location.pathname) != null)?.Page.preload().catch(() => {})

createRoot(document.getElementById('root') as HTMLElement).render(<StrictMode><App /></StrictMode>)
