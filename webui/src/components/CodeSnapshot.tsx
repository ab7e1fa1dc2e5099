import { useState, type ReactNode } from 'react'
import { ContentBrowser } from './ContentBrowser.js'

/** Content browsed once asked for (it may have to be fetched from peers): a job's code snapshot, a workspace's saved home. */
export function CodeSnapshot ({ cid, name, what = 'the code' }: { cid: string, name: string, what?: string }): ReactNode {
  const [open, setOpen] = useState(false)
  return (
    <>
      <button type='button' aria-expanded={open} onClick={() => { setOpen(!open) }}>{open ? `Hide ${what}` : `Browse ${what}`}</button>
      {open && <ContentBrowser cid={cid} name={name} />}
    </>
  )
}
