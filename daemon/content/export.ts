import { createWriteStream } from 'node:fs'
import { lstat, mkdir, rename, rm, symlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Blockstore } from 'interface-blockstore'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { ContentPathError, UnsafeContentError } from './errors.js'

export interface ExportProgress {
  bytes: number
  totalBytes: number | null
}

export interface ExportSummary {
  bytes: number
  files: number
}

/** A name from a DAG (possibly a hostile peer's) that is safe as one path component. */
function checkName (name: string, where: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new UnsafeContentError(`refusing the entry name ${JSON.stringify(name)} in ${where}: not a single safe path component`)
  }
  return name
}

async function ensureFreeDest (dest: string): Promise<void> {
  try {
    await lstat(dest)
  } catch (err: any) {
    if (err?.code === 'ENOENT') return
    throw new ContentPathError(`cannot use ${dest}: ${err?.message ?? err}`)
  }
  throw new ContentPathError(`${dest} already exists; choose a path that does not exist yet`)
}

/**
 * Writes a UnixFS DAG to `dest` (a file for a file, a folder for a folder). It is written
 * beside `dest` first and renamed into place at the end, so a failed or cancelled export
 * leaves nothing at `dest`. Symlinks are created last, so no write goes through one.
 */
export async function exportDag (blockstore: Pick<Blockstore, 'get'>, cid: CID, dest: string, options: { signal?: AbortSignal, onProgress?: (p: ExportProgress) => void } = {}): Promise<ExportSummary> {
  await ensureFreeDest(dest)
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (err: any) {
    throw new ContentPathError(`cannot create ${dirname(dest)}: ${err?.message ?? err}`)
  }
  const staging = join(dirname(dest), `.${basename(dest)}.floe-partial-${process.pid}-${Date.now()}`)
  const summary: ExportSummary = { bytes: 0, files: 0 }
  const symlinks: Array<{ path: string, target: string }> = []
  const root = await exporter(cid, blockstore, { signal: options.signal })
  const totalBytes = root.type === 'directory' ? null : Number(root.size)

  const write = async (entry: UnixFSEntry, path: string, where: string): Promise<void> => {
    options.signal?.throwIfAborted()
    if (entry.type === 'directory') {
      await mkdir(path)
      const seen = new Set<string>()
      for await (const child of entry.entries({ signal: options.signal })) {
        const name = checkName(child.name, where)
        if (seen.has(name)) throw new UnsafeContentError(`refusing ${where}: it lists "${name}" twice`)
        seen.add(name)
        await write(await exporter(child.cid, blockstore, { signal: options.signal }), join(path, name), `${where}/${name}`)
      }
    } else if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
      symlinks.push({ path, target: new TextDecoder().decode(entry.unixfs.data) })
    } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
      const counted = async function * (): AsyncGenerator<Uint8Array> {
        for await (const chunk of entry.content({ signal: options.signal })) {
          summary.bytes += chunk.length
          options.onProgress?.({ bytes: summary.bytes, totalBytes })
          yield chunk
        }
      }
      await pipeline(Readable.from(counted()), createWriteStream(path, { flags: 'wx' }), { signal: options.signal })
      summary.files++
    } else {
      throw new UnsafeContentError(`${where} is a ${entry.type} node, not UnixFS file or folder content`)
    }
  }

  try {
    await write(root, staging, cid.toString())
    for (const link of symlinks) await symlink(link.target, link.path)
    await rename(staging, dest)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  return summary
}
