import { constants } from 'node:fs'
import { lchown, lstat, mkdir, open, rename, rm, statfs, symlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { ContentPathError, ContentTooLargeError, UnsafeContentError } from './errors.js'

export interface ExportProgress {
  bytes: number
  totalBytes: number | null
}

export interface ExportSummary {
  bytes: number
  files: number
}

/** The most a DAG may put on disk: bytes of file content, and entries (files, folders, links). */
export interface ExportBudget {
  maxBytes: number
  maxEntries: number
}

export interface ExportOptions {
  signal?: AbortSignal
  onProgress?: (p: ExportProgress) => void
  /**
   * Checked against the sizes the DAG declares before anything is written, and counted
   * while writing (a hostile DAG can declare less than it holds). Default: the free space
   * of the destination's file system and DEFAULT_MAX_ENTRIES.
   */
  budget?: ExportBudget
  /** every entry written is handed to this owner (the daemon must be root); links themselves, never their targets */
  owner?: { uid: number, gid: number }
}

/**
 * Entries a DAG may hold when the caller names no budget. A folder of a million files is
 * more than any code snapshot or dataset floe moves as one DAG, and fewer than the inodes of
 * a small file system.
 */
export const DEFAULT_MAX_ENTRIES = 1_000_000
/**
 * Folders nested deeper than this are refused: PATH_MAX is 4096 bytes, so deeper trees
 * cannot be opened by path on Linux anyway, and each level is a recursive call here.
 */
export const MAX_DEPTH = 256

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** A name from a DAG (possibly a hostile peer's) that is safe as one path component. */
function checkName (name: string, where: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new UnsafeContentError(`refusing the entry name ${JSON.stringify(name)} in ${where}: not a single safe path component`)
  }
  return name
}

function isSymlink (entry: UnixFSEntry): boolean {
  return entry.type === 'file' && entry.unixfs.type === 'symlink'
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

/** The free space of the file system that holds `folder` (which must exist), as a budget. */
export async function freeSpaceBudget (folder: string): Promise<ExportBudget> {
  const stats = await statfs(folder)
  return { maxBytes: Number(stats.bavail) * Number(stats.bsize), maxEntries: DEFAULT_MAX_ENTRIES }
}

function overBudget (what: string, measured: { bytes: number, entries: number }, budget: ExportBudget): ContentTooLargeError | undefined {
  if (measured.bytes > budget.maxBytes) return new ContentTooLargeError(`${what} holds more than ${budget.maxBytes} bytes (its budget here); refusing to write it`)
  if (measured.entries > budget.maxEntries) return new ContentTooLargeError(`${what} holds more than ${budget.maxEntries} files and folders (its budget here); refusing to write it`)
  return undefined
}

/**
 * The bytes and entries a UnixFS DAG declares, stopping as soon as either passes the
 * budget (so a DAG that links one folder a million times costs at most `maxEntries` reads).
 * Only folder nodes and each file's root node are read, never file content.
 */
export async function measureDag (blockstore: Pick<Blockstore, 'get'>, cid: CID, budget: ExportBudget, signal?: AbortSignal): Promise<{ bytes: number, entries: number, files: number }> {
  const measured = { bytes: 0, entries: 0, files: 0 }
  const visit = async (entry: UnixFSEntry, where: string, depth: number): Promise<void> => {
    signal?.throwIfAborted()
    measured.entries++
    if (depth > MAX_DEPTH) throw new UnsafeContentError(`${where} is nested more than ${MAX_DEPTH} folders deep`)
    if (entry.type === 'directory') {
      for await (const child of entry.entries({ signal })) {
        await visit(await exporter(child.cid, blockstore, { signal }), `${where}/${checkName(child.name, where)}`, depth + 1)
        if (overBudget(cid.toString(), measured, budget) != null) return
      }
    } else if (!isSymlink(entry)) {
      measured.files++
      measured.bytes += Number(entry.size)
    }
  }
  await visit(await exporter(cid, blockstore, { signal }), cid.toString(), 0)
  return measured
}

/**
 * Writes a UnixFS DAG to `dest` (a file for a file, a folder for a folder). It is written
 * beside `dest` first and renamed into place at the end, so a failed or cancelled export
 * leaves nothing at `dest`.
 *
 * Content is data, never a place: a root that is a symbolic link is refused (code, inputs
 * and homes are files or folders), links inside are created as links and never followed
 * (every file is opened O_EXCL|O_NOFOLLOW, links are made last), names are single path
 * components, and the budget is checked against the declared sizes before anything is
 * written and against the bytes actually written while writing.
 */
export async function exportDag (blockstore: Pick<Blockstore, 'get'>, cid: CID, dest: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const { signal } = options
  await ensureFreeDest(dest)
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (err: any) {
    throw new ContentPathError(`cannot create ${dirname(dest)}: ${err?.message ?? err}`)
  }
  const root = await exporter(cid, blockstore, { signal })
  if (isSymlink(root)) throw new UnsafeContentError(`${cid} is a symbolic link, not a file or folder; refusing to write it`)
  const budget = options.budget ?? await freeSpaceBudget(dirname(dest))
  const declared = await measureDag(blockstore, cid, budget, signal)
  const refused = overBudget(cid.toString(), declared, budget)
  if (refused != null) throw refused

  const staging = join(dirname(dest), `.${basename(dest)}.floe-partial-${process.pid}-${Date.now()}`)
  const summary: ExportSummary = { bytes: 0, files: 0 }
  let entries = 0
  const symlinks: Array<{ path: string, target: string }> = []
  const totalBytes = declared.bytes
  const own = async (path: string): Promise<void> => {
    if (options.owner != null) await lchown(path, options.owner.uid, options.owner.gid)
  }
  const checkBudget = (): void => {
    const over = overBudget(cid.toString(), { bytes: summary.bytes, entries }, budget)
    if (over != null) throw over
  }

  const writeFile = async (entry: Extract<UnixFSEntry, { type: 'file' | 'raw' | 'identity' }>, path: string): Promise<void> => {
    const handle = await open(path, WRITE_FLAGS, 0o644)
    try {
      if (options.owner != null) await handle.chown(options.owner.uid, options.owner.gid)
      for await (const chunk of entry.content({ signal })) {
        summary.bytes += chunk.length
        checkBudget()
        let written = 0
        while (written < chunk.length) written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten
        options.onProgress?.({ bytes: summary.bytes, totalBytes })
      }
    } finally {
      await handle.close()
    }
    summary.files++
  }

  const write = async (entry: UnixFSEntry, path: string, where: string, depth: number): Promise<void> => {
    signal?.throwIfAborted()
    entries++
    checkBudget()
    if (depth > MAX_DEPTH) throw new UnsafeContentError(`${where} is nested more than ${MAX_DEPTH} folders deep`)
    if (entry.type === 'directory') {
      await mkdir(path)
      await own(path)
      const seen = new Set<string>()
      for await (const child of entry.entries({ signal })) {
        const name = checkName(child.name, where)
        if (seen.has(name)) throw new UnsafeContentError(`refusing ${where}: it lists "${name}" twice`)
        seen.add(name)
        await write(await exporter(child.cid, blockstore, { signal }), join(path, name), `${where}/${name}`, depth + 1)
      }
    } else if (isSymlink(entry)) {
      symlinks.push({ path, target: new TextDecoder().decode((entry as Extract<UnixFSEntry, { type: 'file' }>).unixfs.data) })
    } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
      await writeFile(entry, path)
    } else {
      throw new UnsafeContentError(`${where} is a ${entry.type} node, not UnixFS file or folder content`)
    }
  }

  try {
    await write(root, staging, cid.toString(), 0)
    for (const link of symlinks) {
      await symlink(link.target, link.path)
      await own(link.path)
    }
    await rename(staging, dest)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  return summary
}
