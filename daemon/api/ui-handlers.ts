import { Readable } from 'node:stream'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import type { Hono } from 'hono'
import { RAW_PATHS } from '../../protocol/api/ui-routes.js'
import type { LogLine } from '../../protocol/jobs/job.js'
import { listContent, readContentFile, tarContent } from '../content/browse.js'
import type { RequireDag } from '../content/require-dag.js'
import type { datasetService } from '../datasets/index.js'
import { InvalidRefError } from '../datasets/errors.js'
import { walkDag } from '../store/dag-walk.js'
import { CarWriter } from '@ipld/car'
import type { ApiHandlers } from './server.js'
import { UI_TOKEN_TTL_MS, type UiSessions } from './ui-session.js'
import type { UploadFolders } from './upload-folders.js'

export interface UiComponents {
  apiUrl: () => string
  sessions: UiSessions
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** makes a DAG whole here, from peers when needed */
  requireDag: RequireDag
  datasets: Pick<ReturnType<typeof datasetService>, 'upload'>
  /** where browser uploads wait until they are imported (and expire when abandoned) */
  uploads: Pick<UploadFolders, 'create' | 'write' | 'claim'>
  /** a job's stored log lines after `after`, each to `onLine` (the job service's `logs`, not following) */
  jobLogs: (ref: string, options: { after: number, follow: false, signal?: AbortSignal, onLine: (line: LogLine) => void }) => Promise<unknown>
}

const parseCid = (text: string | undefined): CID => {
  try {
    return CID.parse(text ?? '')
  } catch {
    throw new InvalidRefError(`"${text ?? ''}" is not a CID`)
  }
}

/** Makes content whole here (from peers when needed) before it is browsed or downloaded. */
async function held (components: Pick<UiComponents, 'requireDag'>, cid: CID, signal?: AbortSignal): Promise<void> {
  await components.requireDag(cid, { signal })
}

/** Thrown from a log reader's callback to stop reading early (a full page of matches). */
const ENOUGH = Symbol('enough')

/** The web UI's JSON routes: its sign-in link, browsing, uploads, searching a whole log. */
export function uiHandlers (components: UiComponents): Pick<ApiHandlers, 'uiToken' | 'contentList' | 'uploadCreate' | 'uploadFinish' | 'jobLogSearch'> {
  return {
    jobLogSearch: async ({ ref, query, after, limit }, { signal }) => {
      const needle = query.toLowerCase()
      const matches: LogLine[] = []
      let scanned = 0
      let last = after
      try {
        await components.jobLogs(ref, {
          after,
          follow: false,
          signal,
          onLine: line => {
            scanned++
            last = line.seq
            if (!line.line.toLowerCase().includes(needle)) return
            matches.push(line)
            if (matches.length >= limit) throw ENOUGH // eslint-disable-line @typescript-eslint/only-throw-error
          }
        })
      } catch (err) {
        if (err !== ENOUGH) throw err
        return { matches, next: last, scanned }
      }
      return { matches, next: null, scanned }
    },
    uiToken: async () => ({
      url: `${components.apiUrl()}${RAW_PATHS.uiLogin}?token=${components.sessions.issueToken()}`,
      expiresAt: new Date(Date.now() + UI_TOKEN_TTL_MS).toISOString()
    }),
    contentList: async ({ cid, path }, { signal }) => {
      const root = parseCid(cid)
      await held(components, root, signal)
      return { cid, path, entries: await listContent(components.blockstore, root, path, { signal }) }
    },
    uploadCreate: async () => ({ id: await components.uploads.create() }),
    uploadFinish: async ({ id, name, message }, { signal, progress }) => {
      const { folder, done } = components.uploads.claim(id)
      try {
        const dataset = await components.datasets.upload({ path: folder, name, message, cidVersion: 1, chunker: 'fixed' }, { signal, onProgress: progress })
        return { name: dataset.name, version: dataset.version, cid: dataset.cid, bytes: dataset.bytes, files: dataset.files }
      } finally {
        await done()
      }
    }
  }
}

/** Downloads (a file, a .tar, a .car) and upload bodies: bytes, not JSON. */
export function uiRawRoutes (components: UiComponents) {
  return (app: Hono): void => {
    const attachment = (name: string): string => `attachment; filename*=UTF-8''${encodeURIComponent(name)}`
    const stream = (source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> => Readable.toWeb(Readable.from(source)) as ReadableStream<Uint8Array>

    app.get(RAW_PATHS.contentFile, async c => {
      const root = parseCid(c.req.query('cid'))
      const signal = c.req.raw.signal
      await held(components, root, signal)
      const file = await readContentFile(components.blockstore, root, c.req.query('path') ?? '', { signal })
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(file.size), 'x-content-type-options': 'nosniff' }
      if (c.req.query('download') != null) headers['content-disposition'] = attachment(file.name || root.toString())
      return new Response(stream(file.content), { headers })
    })
    app.get(RAW_PATHS.contentTar, async c => {
      const root = parseCid(c.req.query('cid'))
      const signal = c.req.raw.signal
      await held(components, root, signal)
      const name = (c.req.query('name') ?? '').replace(/[^A-Za-z0-9._-]/g, '_') || root.toString()
      return new Response(stream(tarContent(components.blockstore, root, name, { signal })), { headers: { 'content-type': 'application/x-tar', 'content-disposition': attachment(`${name}.tar`) } })
    })
    app.get(RAW_PATHS.contentCar, async c => {
      const root = parseCid(c.req.query('cid'))
      const signal = c.req.raw.signal
      await held(components, root, signal)
      const { writer, out } = CarWriter.create([root])
      void (async () => {
        try {
          for await (const block of walkDag(components.blockstore, root, { withBytes: true, signal })) {
            if (block.bytes != null) await writer.put({ cid: block.cid, bytes: block.bytes })
          }
        } finally {
          await writer.close()
        }
      })().catch(() => { /* the client went away: the response ends there */ })
      return new Response(stream(out), { headers: { 'content-type': 'application/vnd.ipld.car', 'content-disposition': attachment(`${root.toString()}.car`) } })
    })
    // a job's whole log as text, streamed as it is read (an unknown job is the API's JSON error)
    app.get(RAW_PATHS.jobLogText, async c => {
      const ref = c.req.query('ref') ?? ''
      const queue: string[] = []
      let done = false
      let failed: unknown
      let wake: (() => void) | undefined
      const waitMore = async (): Promise<void> => { if (queue.length === 0 && !done) await new Promise<void>(resolve => { wake = resolve }); wake = undefined }
      void components.jobLogs(ref, { after: 0, follow: false, signal: c.req.raw.signal, onLine: line => { queue.push(`${line.line}\n`); wake?.() } })
        .then(() => { done = true }, (err: unknown) => { failed = err; done = true })
        .finally(() => { wake?.() })
      await waitMore()
      if (failed != null) throw failed
      const encoder = new TextEncoder()
      async function * text (): AsyncGenerator<Uint8Array> {
        while (true) {
          if (queue.length > 0) yield encoder.encode(queue.splice(0).join(''))
          if (done && queue.length === 0) return
          await waitMore()
        }
      }
      const name = `${ref.replace(/[^A-Za-z0-9._-]+/g, '-')}.log`
      return new Response(stream(text()), { headers: { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': attachment(name), 'x-content-type-options': 'nosniff' } })
    })
    app.put(RAW_PATHS.uploadFile, async c => {
      const relative = await components.uploads.write(c.req.query('id') ?? '', c.req.query('path') ?? '', c.req.raw.body, c.req.raw.signal)
      return c.json({ path: relative })
    })
  }
}
