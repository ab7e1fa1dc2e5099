import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Logger } from '../log.js'

/**
 * How long an unfinished browser upload may sit idle (no file written, none being written)
 * before its folder is removed. The web UI creates an upload, PUTs its files one after the
 * other over loopback and finishes it in one go; nothing resumes an upload later (a reload
 * starts a new one). One hour of silence is far beyond any pause between two files of a
 * live upload, and bounds what an abandoned one (a closed tab, a crashed script) keeps on disk.
 * `FLOE_UPLOAD_TTL_MS` shortens it for tests.
 */
export const UPLOAD_TTL_MS = 60 * 60_000
/** Unfinished uploads at once: a client looping on `POST /uploads` is refused, not obeyed. */
export const MAX_OPEN_UPLOADS = 64
/** Path limits as Linux has them (a name, a whole path). */
const MAX_NAME_BYTES = 255
const MAX_PATH_BYTES = 4096

export class UploadNotFoundError extends Error {
  override name = 'UploadNotFoundError'
}
export class UploadPathError extends Error {
  override name = 'UploadPathError'
}
export class UploadConflictError extends Error {
  override name = 'UploadConflictError'
}
export class UploadAbortedError extends Error {
  override name = 'UploadAbortedError'
}
export class TooManyUploadsError extends Error {
  override name = 'TooManyUploadsError'
}

const UPLOAD_ID = /^[0-9a-f]{32}$/

/**
 * `a/b.txt` as given: relative, `/`-separated, no empty, `.` or `..` part, no NUL. Refused
 * rather than normalised, so `.`, `./` or `a/..` never name the upload's own folder.
 */
export function uploadPath (raw: string): string[] {
  const parts = raw.split('/')
  const bad = raw === '' || Buffer.byteLength(raw) > MAX_PATH_BYTES || raw.includes('\0') ||
    parts.some(part => part === '' || part === '.' || part === '..' || Buffer.byteLength(part) > MAX_NAME_BYTES)
  if (bad) throw new UploadPathError(`"${raw.slice(0, 200)}" is not a relative file path (parts separated by "/", none empty, "." or "..")`)
  return parts
}

const inTheWay = (err: any): boolean => ['EEXIST', 'EISDIR', 'ENOTDIR'].includes(err?.code)

export interface UploadFoldersComponents {
  /** where uploads wait until they are finished; emptied on start */
  root: string
  ttlMs?: number
  log: Logger
  now?: () => number
}

/**
 * The folders browser uploads are written into before they become a dataset version: one
 * per upload, removed when it is finished, when it sits idle for the TTL, or when the daemon
 * starts (uploads do not outlive the sessions that made them, which live in memory).
 */
export function uploadFolders (components: UploadFoldersComponents) {
  const ttl = components.ttlMs ?? UPLOAD_TTL_MS
  const now = components.now ?? Date.now
  const open = new Map<string, { lastUsed: number, writing: number }>()
  let sweeper: NodeJS.Timeout | undefined

  const remove = (id: string): void => {
    open.delete(id)
    rm(join(components.root, id), { recursive: true, force: true }).catch((err: Error) => {
      components.log.warn({ err: err.message, id }, 'could not remove an abandoned upload')
    })
  }
  const entry = (id: string): { lastUsed: number, writing: number } => {
    const found = UPLOAD_ID.test(id) ? open.get(id) : undefined
    if (found == null) throw new UploadNotFoundError('no such upload (finished, expired or never started); start one first')
    return found
  }

  return {
    async start (): Promise<void> {
      if (sweeper != null) return
      await rm(components.root, { recursive: true, force: true })
      await mkdir(components.root, { recursive: true, mode: 0o700 })
      sweeper = setInterval(() => { this.sweep() }, Math.max(50, Math.min(ttl / 4, 60_000)))
      sweeper.unref()
    },

    stop (): void {
      clearInterval(sweeper)
      sweeper = undefined
    },

    /** removes the uploads idle for the TTL; not one with a file being written */
    sweep (): void {
      const t = now()
      for (const [id, { lastUsed, writing }] of open) {
        if (writing === 0 && lastUsed + ttl <= t) {
          components.log.info({ id, idleMs: t - lastUsed }, 'removing an upload never finished')
          remove(id)
        }
      }
    },

    async create (): Promise<string> {
      if (open.size >= MAX_OPEN_UPLOADS) throw new TooManyUploadsError(`${MAX_OPEN_UPLOADS} uploads are unfinished; finish them, or wait: one idle for ${Math.round(ttl / 60_000)} min is removed`)
      const id = randomBytes(16).toString('hex')
      await mkdir(join(components.root, id), { recursive: true, mode: 0o700 })
      open.set(id, { lastUsed: now(), writing: 0 })
      return id
    },

    /** writes one file of an upload; a file may be written once */
    async write (id: string, rawPath: string, body: ReadableStream<Uint8Array> | null, signal: AbortSignal): Promise<string> {
      const upload = entry(id)
      const parts = uploadPath(rawPath)
      if (body == null) throw new UploadPathError('the upload has no body')
      const relative = parts.join('/')
      const target = join(components.root, id, ...parts)
      upload.writing++
      try {
        try {
          await mkdir(dirname(target), { recursive: true })
        } catch (err) {
          if (inTheWay(err)) throw new UploadConflictError(`"${relative}" cannot be written: a file of this upload is where a folder of its path should be`)
          throw err
        }
        const file = createWriteStream(target, { flags: 'wx' })
        try {
          await pipeline(Readable.fromWeb(body as any), file, { signal })
        } catch (err) {
          if (inTheWay(err)) throw new UploadConflictError(`"${relative}" is already in this upload (as a file or a folder); each path is written once`)
          // a cut body must not be taken for the whole file, nor block a retry
          await rm(target, { force: true })
          if (signal.aborted) throw new UploadAbortedError(`the body of "${relative}" was cut off; send the file again`)
          throw err
        }
        return relative
      } finally {
        upload.writing--
        upload.lastUsed = now()
      }
    },

    /** the upload's folder, taken out of the list: the caller imports it, then calls `done` */
    claim (id: string): { folder: string, done: () => Promise<void> } {
      const upload = entry(id)
      if (upload.writing > 0) throw new UploadConflictError('a file of this upload is still being written; finish it after the last file is sent')
      open.delete(id)
      const folder = join(components.root, id)
      return { folder, done: async () => { await rm(folder, { recursive: true, force: true }) } }
    }
  }
}

export type UploadFolders = ReturnType<typeof uploadFolders>
