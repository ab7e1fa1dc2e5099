import { useState, type FormEvent, type ReactNode } from 'react'
import { useSearchParams } from 'react-router'
import { RAW_PATHS } from '../../../protocol/api/ui-routes.js'
import { api, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, useTitle } from '../components/common.js'
import { ContentBrowser } from '../components/ContentBrowser.js'
import { DataTable } from '../components/DataTable.js'
import { ago } from '../../../protocol/format.js'
import { formatSize } from '../../../protocol/market/requirements.js'

/** PUTs one file with upload progress (fetch cannot report it; XMLHttpRequest can). */
function putFile (id: string, path: string, file: File, onProgress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('PUT', `${RAW_PATHS.uploadFile}?${new URLSearchParams({ id, path }).toString()}`)
    xhr.upload.onprogress = e => { onProgress(e.loaded) }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve()
      try { reject(new Error(JSON.parse(xhr.responseText).error.message)) } catch { reject(new Error(`upload failed: HTTP ${xhr.status}`)) }
    }
    xhr.onerror = () => { reject(new Error('upload failed: the daemon did not answer')) }
    xhr.send(file)
  })
}

export function Datasets (): ReactNode {
  const [params, setParams] = useSearchParams()
  const datasets = useLoad(async signal => (await api.call('datasetList', {}, { signal })).datasets, [], 5000)
  const [files, setFiles] = useState<File[]>([])
  const [name, setName] = useState('')
  const [progress, setProgress] = useState<{ sent: number, total: number, phase: string }>()
  const [error, setError] = useState<Error>()
  const selected = params.get('name')
  const version = Number(params.get('version') ?? NaN)
  // the version clicked (`mnist:1` is version 1), else the name's latest
  const open = (datasets.data ?? []).filter(d => d.name === selected && (Number.isNaN(version) || d.version === version)).sort((a, b) => b.version - a.version)[0]
  useTitle(open != null ? `Dataset ${open.name}:${open.version}` : 'Datasets')

  const upload = async (event: FormEvent): Promise<void> => {
    event.preventDefault()
    setError(undefined)
    const total = files.reduce((sum, f) => sum + f.size, 0)
    try {
      const { id } = await api.call('uploadCreate', {})
      let done = 0
      for (const file of files) {
        await putFile(id, file.webkitRelativePath !== '' ? file.webkitRelativePath : file.name, file, sent => { setProgress({ sent: done + sent, total, phase: 'uploading' }) })
        done += file.size
      }
      setProgress({ sent: total, total, phase: 'importing' })
      const dataset = await api.call('uploadFinish', { id, name: name.trim(), message: '' })
      setProgress(undefined)
      setFiles([])
      datasets.reload()
      setParams({ name: dataset.name, version: String(dataset.version) })
    } catch (err) {
      setProgress(undefined)
      setError(err as Error)
    }
  }

  return (
    <main id='main'>
      <h1>Datasets</h1>
      <form className='inline' onSubmit={e => { void upload(e) }}>
        <label htmlFor='dataset-files'>Upload files</label>
        <input id='dataset-files' type='file' multiple onChange={e => { setFiles([...(e.target.files ?? [])]); if (name === '' && e.target.files?.[0] != null) setName(e.target.files[0].name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '-')) }} />
        <label htmlFor='dataset-name'>as</label>
        <input id='dataset-name' placeholder='mnist' value={name} onChange={e => { setName(e.target.value) }} required />
        <button type='submit' disabled={files.length === 0 || name.trim() === '' || progress != null}>Upload</button>
      </form>
      {progress != null && (
        <div className='progress'>
          <progress max={progress.total || 1} value={progress.sent} aria-label='upload progress' />
          <span>{progress.phase} {formatSize(progress.sent)} of {formatSize(progress.total)}</span>
        </div>
      )}
      <ErrorBox error={error} />
      <ErrorBox error={datasets.error} />
      {datasets.data == null
        ? datasets.error == null && <Loading />
        : datasets.data.length === 0
          ? <Empty>No datasets yet. Upload files above, or run <code>floe data upload PATH --name NAME</code>.</Empty>
          : <DataTable
              caption='dataset versions'
              rows={datasets.data}
              rowKey={d => `${d.name}:${d.version}`}
              initialSort={{ key: 'name' }}
              columns={[
                { key: 'name', label: 'Dataset', render: d => <button type='button' className='link' aria-current={open === d ? 'true' : undefined} onClick={() => { setParams({ name: d.name, version: String(d.version) }) }}>{d.name}:{d.version}</button>, sort: d => `${d.name}:${String(d.version).padStart(6, '0')}` },
                { key: 'size', label: 'Size', render: d => formatSize(d.bytes), sort: d => d.bytes },
                { key: 'files', label: 'Files', render: d => d.files, sort: d => d.files },
                { key: 'created', label: 'Created', render: d => ago(d.createdAt), sort: d => d.createdAt },
                { key: 'cid', label: 'CID', render: d => <Mono>{d.cid}</Mono> },
                { key: 'message', label: 'Message', render: d => d.message }
              ]}
            />}
      {open != null && (
        <section>
          <h2>{open.name}:{open.version}</h2>
          <ContentBrowser cid={open.cid} name={`${open.name}-${open.version}`} />
        </section>
      )}
    </main>
  )
}
