import type { Blockstore } from 'interface-blockstore'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { pack } from 'tar-stream'
import { ContentPathError, UnsafeContentError } from './errors.js'

/** One entry of a folder, as the web UI's file browser shows it. */
export interface BrowseEntry {
  name: string
  type: 'file' | 'directory' | 'symlink'
  /** bytes of a file; null for a folder */
  size: number | null
  cid: string
}

/** `a/b.txt` → its entry under `root`; `''` is the root itself. Each part must be a plain name. */
async function resolvePath (blockstore: Pick<Blockstore, 'get'>, root: CID, path: string, signal?: AbortSignal): Promise<UnixFSEntry> {
  const parts = path.split('/').filter(part => part !== '')
  for (const part of parts) {
    if (part === '.' || part === '..' || part.includes('\0')) throw new ContentPathError(`"${path}" is not a path inside the content`)
  }
  try {
    return await exporter(parts.length === 0 ? root : `${root.toString()}/${parts.join('/')}`, blockstore, { signal })
  } catch (err: any) {
    if (err?.name === 'NotFoundError' || err?.code === 'ERR_NOT_FOUND') throw new ContentPathError(`no "${path}" in ${root.toString()}`)
    throw err
  }
}

function kind (entry: UnixFSEntry): BrowseEntry['type'] {
  if (entry.type === 'directory') return 'directory'
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') return 'symlink'
  return 'file'
}

/** The entries of a folder in a UnixFS DAG (or the one entry, for a file). */
export async function listContent (blockstore: Pick<Blockstore, 'get'>, root: CID, path: string, options: { signal?: AbortSignal } = {}): Promise<BrowseEntry[]> {
  const entry = await resolvePath(blockstore, root, path, options.signal)
  if (entry.type !== 'directory') return [{ name: entry.name, type: kind(entry), size: Number(entry.size), cid: entry.cid.toString() }]
  const entries: BrowseEntry[] = []
  for await (const child of entry.entries({ signal: options.signal })) {
    const resolved = await exporter(child.cid, blockstore, { signal: options.signal })
    entries.push({ name: child.name, type: kind(resolved), size: resolved.type === 'directory' ? null : Number(resolved.size), cid: child.cid.toString() })
  }
  return entries.sort((a, b) => (a.type === 'directory' ? 0 : 1) - (b.type === 'directory' ? 0 : 1) || a.name.localeCompare(b.name))
}

/** A file's bytes, streamed. */
export async function readContentFile (blockstore: Pick<Blockstore, 'get'>, root: CID, path: string, options: { signal?: AbortSignal } = {}): Promise<{ name: string, size: number, content: AsyncIterable<Uint8Array> }> {
  const entry = await resolvePath(blockstore, root, path, options.signal)
  if (entry.type === 'directory') throw new ContentPathError(`"${path || '/'}" is a folder; download it as .tar`)
  if (kind(entry) === 'symlink') throw new ContentPathError(`"${path}" is a symlink`)
  if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') throw new UnsafeContentError(`"${path}" is not UnixFS file content`)
  return { name: entry.name, size: Number(entry.size), content: entry.content({ signal: options.signal }) }
}

/**
 * The DAG as a tar stream (a folder's entries under `name/`), written as it is read: files,
 * folders and symlinks; names that are not plain path components are refused.
 */
export function tarContent (blockstore: Pick<Blockstore, 'get'>, root: CID, name: string, options: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
  const tar = pack()
  const write = async (entry: UnixFSEntry, path: string): Promise<void> => {
    options.signal?.throwIfAborted()
    if (entry.type === 'directory') {
      tar.entry({ name: path + '/', type: 'directory', mode: 0o755 })
      for await (const child of entry.entries({ signal: options.signal })) {
        if (child.name === '' || child.name === '.' || child.name === '..' || child.name.includes('/')) throw new UnsafeContentError(`refusing the entry name ${JSON.stringify(child.name)}`)
        await write(await exporter(child.cid, blockstore, { signal: options.signal }), `${path}/${child.name}`)
      }
    } else if (kind(entry) === 'symlink' && entry.type === 'file') {
      tar.entry({ name: path, type: 'symlink', linkname: new TextDecoder().decode(entry.unixfs.data) })
    } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
      const content = entry.content({ signal: options.signal })
      await new Promise<void>((resolve, reject) => {
        const stream = tar.entry({ name: path, size: Number(entry.size), mode: 0o644 }, err => { if (err != null) reject(err); else resolve() })
        void (async () => {
          for await (const chunk of content) {
            if (!stream.write(chunk)) await new Promise<void>(resolve => { stream.once('drain', () => { resolve() }) })
          }
          stream.end(undefined)
        })().catch(reject)
      })
    }
  }
  void (async () => {
    await write(await exporter(root, blockstore, { signal: options.signal }), name)
    tar.finalize()
  })().catch((err: Error) => { tar.destroy(err) })
  return tar as unknown as AsyncIterable<Uint8Array>
}
