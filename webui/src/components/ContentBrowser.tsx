import { useState, type ReactNode } from 'react'
import { RAW_PATHS } from '../../../protocol/api/ui-routes.js'
import { api, useLoad } from '../api.js'
import { formatSize } from '../../../protocol/market/requirements.js'
import { Empty, ErrorBox, Loading, Mono } from './common.js'

const fileUrl = (cid: string, path: string): string => `${RAW_PATHS.contentFile}?${new URLSearchParams({ cid, path, download: '1' }).toString()}`

/** A UnixFS folder (a job's output, a dataset): navigate, download a file, the whole as .tar or .car. */
export function ContentBrowser ({ cid, name }: { cid: string, name: string }): ReactNode {
  const [path, setPath] = useState('')
  const listing = useLoad(async signal => await api.call('contentList', { cid, path }, { signal }), [cid, path])
  const parts = path.split('/').filter(Boolean)
  return (
    <section className='browser' aria-label={`files of ${name}`}>
      <div className='toolbar'>
        <nav aria-label='folder' className='crumbs'>
          <button type='button' className='link' onClick={() => { setPath('') }}>{name}</button>
          {parts.map((part, i) => <span key={i}> / <button type='button' className='link' onClick={() => { setPath(parts.slice(0, i + 1).join('/')) }}>{part}</button></span>)}
        </nav>
        <span className='spacer' />
        <a className='button' href={`${RAW_PATHS.contentTar}?${new URLSearchParams({ cid, name }).toString()}`} download>Download .tar</a>
        <a className='button' href={`${RAW_PATHS.contentCar}?${new URLSearchParams({ cid }).toString()}`} download>Download .car</a>
      </div>
      <ErrorBox error={listing.error} />
      {listing.data == null
        ? (listing.error == null && <Loading />)
        : listing.data.entries.length === 0
          ? <Empty>This folder is empty.</Empty>
          : (
            <ul className='files'>
              {listing.data.entries.map(entry => (
                <li key={entry.name}>
                  {entry.type === 'directory'
                    ? <><span className='kind'>dir</span><button type='button' className='link' onClick={() => { setPath([...parts, entry.name].join('/')) }}>{entry.name}/</button></>
                    : <><span className='kind'>file</span><a href={fileUrl(cid, [...parts, entry.name].join('/'))} download={entry.name}>{entry.name}</a></>}
                  <span className='muted'>{entry.size != null ? formatSize(entry.size) : ''}</span>
                  <Mono title='CID'>{entry.cid.slice(0, 12)}…</Mono>
                </li>
              ))}
            </ul>
            )}
    </section>
  )
}
