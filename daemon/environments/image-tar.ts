import { posix } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { Blockstore } from 'interface-blockstore'
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { extract, type Header } from 'tar-stream'
import { MAX_IMAGE_ENTRIES, MAX_MANIFEST_BYTES } from '../../protocol/environments/environment.js'
import { NotAnImageError } from './errors.js'

/** A tar member as tar-stream yields it: its header, then its bytes. */
type Entry = AsyncIterable<Uint8Array> & { header: Header }

export interface ImageTarImport {
  /** the DAG's root: a UnixFS directory of the tar's members */
  cid: CID
  /** bytes of the members' contents */
  bytes: number
  members: number
}

/** The tar member names docker save writes at the top; `repositories` only tags, so it is dropped. */
export const MANIFEST_FILE = 'manifest.json'
const TAGS_FILE = 'repositories'

/**
 * A tar member's name as a safe relative path (`abc/layer.tar`), or '' for the archive's
 * root. Absolute names and `..` are refused: a hostile tar must not name files outside.
 */
export function memberPath (name: string): string {
  const trimmed = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
  if (trimmed === '' || trimmed === '.') return ''
  const normal = posix.normalize(trimmed)
  if (name.startsWith('/') || normal !== trimmed || normal.split('/').some(part => part === '..' || part === '.' || part === '') || name.includes('\0')) {
    throw new NotAnImageError(`the tar names a member ${JSON.stringify(name)} that is not a plain relative path; docker save writes none such`)
  }
  return normal
}

/**
 * manifest.json without tags: the DAG describes the image, not what one machine called it,
 * so the same image gives the same CID whoever publishes it (tags are set again on load).
 * A manifest that does not parse is kept as it is, for the checks to refuse with a reason.
 */
export function untaggedManifest (bytes: Uint8Array): Uint8Array {
  let manifest: unknown
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return bytes
  }
  if (!Array.isArray(manifest)) return bytes
  const untagged = manifest.map(item => item != null && typeof item === 'object' && !Array.isArray(item) ? { ...item, RepoTags: null } : item)
  return new TextEncoder().encode(JSON.stringify(untagged))
}

async function drain (entry: Entry): Promise<void> {
  for await (const _chunk of entry) { /* a directory's or a dropped member's bytes: none wanted */ }
}

async function readAll (entry: Entry, max: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of entry) {
    length += chunk.byteLength
    if (length > max) throw new NotAnImageError(`${what} is over ${max} bytes; a Docker image's is a few KiB`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/**
 * Imports a `docker save` tar (streamed: a layer is never held whole in memory) as a UnixFS
 * directory with one file per member, in floe's default layout (CIDv1, raw leaves, 1 MiB
 * chunks), so a layer gives the same CID in every image that has it. Members other than
 * files, folders and symlinks are refused. Whether the result is a Docker image is checked
 * apart (image-dag.ts): this only maps the tar.
 */
export async function importImageTar (blockstore: Pick<Blockstore, 'put'>, source: Readable | AsyncIterable<Uint8Array>, options: { what: string, signal?: AbortSignal, onProgress?: (bytes: number) => void }): Promise<ImageTarImport> {
  const extractor = extract()
  const feeding = pipeline(source, extractor, { signal: options.signal })
  // its failure also ends the iteration below; it is awaited (and reported) there
  feeding.catch(() => {})
  let bytes = 0
  let members = 0

  const counted = async function * (entry: Entry): AsyncGenerator<Uint8Array> {
    for await (const chunk of entry) {
      bytes += chunk.byteLength
      options.onProgress?.(bytes)
      yield chunk
    }
  }

  // One member at a time (fileImportConcurrency 1): a tar is read in order, so the importer
  // must finish a member's content before asking for the next.
  const candidates = async function * (): AsyncGenerator<ImportCandidate> {
    for await (const source of extractor) {
      // tar-stream's types leave the chunks unknown: they are Buffers
      const entry = source as unknown as Entry
      if (++members > MAX_IMAGE_ENTRIES) throw new NotAnImageError(`${options.what} has more than ${MAX_IMAGE_ENTRIES} members; a Docker image has a few per layer`)
      const path = memberPath(entry.header.name)
      const type = entry.header.type
      if (path === '') {
        await drain(entry)
      } else if (type === 'directory') {
        await drain(entry)
        yield { path }
      } else if (type === 'symlink') {
        await drain(entry)
        yield { path, link: entry.header.linkname ?? '' }
      } else if (type === 'file' || type === 'contiguous-file') {
        if (path === TAGS_FILE) {
          await drain(entry)
        } else if (path === MANIFEST_FILE) {
          const manifest = untaggedManifest(await readAll(entry, MAX_MANIFEST_BYTES, `${options.what}'s manifest.json`))
          bytes += manifest.byteLength
          yield { path, content: manifest }
        } else {
          yield { path, content: counted(entry) }
        }
      } else {
        throw new NotAnImageError(`${options.what} has a ${type ?? 'typeless'} member ${JSON.stringify(entry.header.name)}; docker save writes only files, folders and symlinks`)
      }
    }
  }

  let root: CID | undefined
  try {
    for await (const result of importer(candidates(), blockstore, { profile: 'unixfs-v1-2025', wrapWithDirectory: true, fileImportConcurrency: 1 })) {
      root = result.cid
    }
    await feeding
  } catch (err: any) {
    extractor.destroy()
    options.signal?.throwIfAborted()
    if (err?.name === 'NotAnImageError') throw err
    if (/tar header|unexpected end|checksum/i.test(String(err?.message))) {
      throw new NotAnImageError(`${options.what} is not a tar archive (${err.message}); give an image, or a file docker save wrote`)
    }
    throw err
  }
  if (root == null || members === 0) throw new NotAnImageError(`${options.what} is an empty tar, not a Docker image`)
  return { cid: root, bytes, members }
}
