import { useState, type ReactNode } from 'react'
import { ContentBrowser } from './ContentBrowser.js'

/** A job's code snapshot (its code CID), browsed like its output once asked for (it may have to be fetched). */
export function CodeSnapshot ({ cid, name }: { cid: string, name: string }): ReactNode {
  const [open, setOpen] = useState(false)
  return (
    <>
      <button type='button' aria-expanded={open} onClick={() => { setOpen(!open) }}>{open ? 'Hide the code' : 'Browse the code'}</button>
      {open && <ContentBrowser cid={cid} name={name} />}
    </>
  )
}
