import { useEffect, useState, type ReactNode } from 'react'
import { RAW_PATHS } from '../../../protocol/api/ui-routes.js'
import { api, useLoad } from '../api.js'
import { formatSize } from '../../../protocol/market/requirements.js'
import { asText, imageType, parseCsv, previewCap, previewKind } from '../preview.js'
import { Empty, ErrorBox, Loading, Mono } from './common.js'

const fileUrl = (cid: string, path: string, download: boolean): string => `${RAW_PATHS.contentFile}?${new URLSearchParams({ cid, path, ...(download ? { download: '1' } : {}) }).toString()}`
const tarUrl = (cid: string, name: string): string => `${RAW_PATHS.contentTar}?${new URLSearchParams({ cid, name }).toString()}`

interface Previewed { path: string, name: string, size: number | null }

type PreviewBody =
  | { kind: 'image', url: string }
  | { kind: 'csv', rows: string[][], truncated: boolean }
  | { kind: 'json' | 'text', text: string }
  | { kind: 'none', why: string }

/** A file's contents shown in place: text, CSV as a table, JSON indented, images; larger ones than the cap are not fetched. */
function Preview ({ cid, file, onClose }: { cid: string, file: Previewed, onClose: () => void }): ReactNode {
  const [body, setBody] = useState<PreviewBody>()
  const [error, setError] = useState<Error>()
  useEffect(() => {
    const kind = previewKind(file.name)
    const cap = previewCap(kind)
    if (file.size != null && file.size > cap) {
      setBody({ kind: 'none', why: `${formatSize(file.size)} is more than the ${formatSize(cap)} shown here: download it instead.` })
      return
    }
    const controller = new AbortController()
    let objectUrl: string | undefined
    void (async () => {
      const res = await fetch(fileUrl(cid, file.path, false), { signal: controller.signal })
      if (!res.ok) throw new Error(`the daemon answered ${res.status}: ${(await res.text()).slice(0, 200)}`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      if (kind === 'image') {
        objectUrl = URL.createObjectURL(new Blob([bytes], { type: imageType(file.name) }))
        setBody({ kind: 'image', url: objectUrl })
        return
      }
      const text = asText(bytes)
      if (text == null) { setBody({ kind: 'none', why: 'This file is not text (it holds bytes that are not UTF-8): download it to open it.' }); return }
      if (kind === 'csv') { setBody({ kind: 'csv', ...parseCsv(text, file.name.toLowerCase().endsWith('.tsv') ? '\t' : ',') }); return }
      if (kind === 'json') {
        try {
          setBody({ kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) })
        } catch (err) {
          setBody({ kind: 'text', text: `(not valid JSON: ${(err as Error).message})\n\n${text}` })
        }
        return
      }
      setBody({ kind: 'text', text })
    })().catch((err: Error) => { if (!controller.signal.aborted) setError(err) })
    return () => { controller.abort(); if (objectUrl != null) URL.revokeObjectURL(objectUrl) }
  }, [cid, file.path])
  const [head, ...rest] = body?.kind === 'csv' ? body.rows : []
  return (
    <section className='preview' aria-label={`preview of ${file.name}`} data-testid='preview'>
      <div className='toolbar'>
        <strong>{file.path}</strong>
        <span className='spacer' />
        <a className='button' href={fileUrl(cid, file.path, true)} download={file.name}>Download</a>
        <button type='button' onClick={onClose}>Close preview</button>
      </div>
      <ErrorBox error={error} />
      {body == null
        ? error == null && <Loading />
        : body.kind === 'image'
          ? <img src={body.url} alt={file.name} className='preview-image' />
          : body.kind === 'csv'
            ? (
              <div className='table-wrap'>
                <table className='csv'>
                  <thead><tr>{(head ?? []).map((h, i) => <th key={i} scope='col'>{h}</th>)}</tr></thead>
                  <tbody>{rest.map((row, i) => <tr key={i}>{row.map((f, k) => <td key={k}>{f}</td>)}</tr>)}</tbody>
                </table>
                {body.truncated && <p className='muted'>The first {body.rows.length} rows are shown.</p>}
              </div>
              )
            : body.kind === 'none'
              ? <p className='muted'>{body.why}</p>
              : <pre className='preview-text' tabIndex={0}>{body.text}</pre>}
    </section>
  )
}

/**
 * A UnixFS folder (a job's output or code snapshot, a dataset, a saved home): navigate,
 * preview or download a file, download the folder shown as .tar (each folder has its own
 * CID), the whole as .car.
 */
export function ContentBrowser ({ cid, name }: { cid: string, name: string }): ReactNode {
  /** the folders opened below the root, each with its CID */
  const [trail, setTrail] = useState<Array<{ name: string, cid: string }>>([])
  const [preview, setPreview] = useState<Previewed>()
  const path = trail.map(t => t.name).join('/')
  const folder = trail.at(-1) ?? { name, cid }
  const listing = useLoad(async signal => await api.call('contentList', { cid, path }, { signal }), [cid, path])
  useEffect(() => { setTrail([]); setPreview(undefined) }, [cid])
  const empty = listing.data?.entries.length === 0
  return (
    <section className='browser' aria-label={`files of ${name}`}>
      <div className='toolbar'>
        <nav aria-label='folder' className='crumbs'>
          <button type='button' className='link' onClick={() => { setTrail([]) }}>{name}</button>
          {trail.map((part, i) => <span key={i}> / <button type='button' className='link' onClick={() => { setTrail(trail.slice(0, i + 1)) }}>{part.name}</button></span>)}
        </nav>
        <span className='spacer' />
        {listing.data != null && !empty && (
          <>
            <a className='button' href={tarUrl(folder.cid, trail.length === 0 ? name : `${name}-${trail.map(t => t.name).join('-')}`)} download>{trail.length === 0 ? 'Download .tar' : 'Download this folder .tar'}</a>
            {trail.length === 0 && <a className='button' href={`${RAW_PATHS.contentCar}?${new URLSearchParams({ cid }).toString()}`} download>Download .car</a>}
          </>
        )}
      </div>
      <ErrorBox error={listing.error} />
      {listing.data == null
        ? (listing.error == null && <Loading />)
        : empty
          ? <Empty>This folder is empty.</Empty>
          : (
            <ul className='files'>
              {listing.data.entries.map(entry => {
                const filePath = [path, entry.name].filter(Boolean).join('/')
                return (
                  <li key={entry.name}>
                    {entry.type === 'directory'
                      ? <><span className='kind'>dir</span><button type='button' className='link' onClick={() => { setTrail([...trail, { name: entry.name, cid: entry.cid }]) }}>{entry.name}/</button></>
                      : <>
                        <span className='kind'>file</span><a href={fileUrl(cid, filePath, true)} download={entry.name}>{entry.name}</a>
                        <button type='button' className='link' aria-label={`preview ${entry.name}`} onClick={() => { setPreview({ path: filePath, name: entry.name, size: entry.size }) }}>preview</button>
                      </>}
                    <span className='muted'>{entry.size != null ? formatSize(entry.size) : ''}</span>
                    <Mono title='CID'>{entry.cid.slice(0, 12)}…</Mono>
                  </li>
                )
              })}
            </ul>
            )}
      {preview != null && <Preview cid={cid} file={preview} onClose={() => { setPreview(undefined) }} />}
    </section>
  )
}
