import { lstat, opendir, readFile, readlink } from 'node:fs/promises'
import { join, posix } from 'node:path'
import ignore, { type Ignore } from 'ignore'
import { ContentPathError, ContentTooLargeError, UnsafeContentError } from './errors.js'

export interface WalkOptions {
  ignore?: Ignore
  /** refused past either (ContentTooLargeError), as soon as the walk sees it */
  budget?: { maxBytes: number, maxEntries: number }
  /**
   * Refuse anything on another file system than the root's: a folder a job could write is
   * walked as one file system (its own), so a folder swapped for a link to the host while it
   * is walked is caught by its device, not followed.
   */
  oneFileSystem?: boolean
}

export type TreeEntry =
  | { kind: 'file', path: string, absolute: string, size: number, mtimeMs: number, dev: number, ino: number }
  | { kind: 'dir', path: string }
  | { kind: 'symlink', path: string, target: string }

export interface WalkResult {
  /** what to import, parents before children, names in byte order */
  entries: TreeEntry[]
  /** the root itself is a single file (imported bare, as `ipfs add FILE` does) */
  single: boolean
  files: number
  bytes: number
}

/** Ignored in code snapshots whatever the ignore files say. */
export const DEFAULT_IGNORES = ['.git', 'node_modules', '__pycache__', '.floeproject']

/** gitignore rules from `.floeignore` and `.gitignore` at the root, plus the defaults. */
export async function snapshotIgnore (root: string): Promise<Ignore> {
  const rules = ignore().add(DEFAULT_IGNORES)
  for (const name of ['.gitignore', '.floeignore']) {
    try {
      rules.add(await readFile(join(root, name), 'utf8'))
    } catch (err: any) {
      if (err?.code !== 'ENOENT') throw new ContentPathError(`cannot read ${join(root, name)}: ${err?.message ?? err}`)
    }
  }
  return rules
}

function describeFsError (path: string, err: any): ContentPathError {
  if (err?.code === 'ENOENT') return new ContentPathError(`${path} does not exist`)
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return new ContentPathError(`${path} is not readable (permission denied)`)
  return new ContentPathError(`cannot read ${path}: ${err?.message ?? err}`)
}

/**
 * Lists a file or folder for import. Symlinks are recorded as links (their target text),
 * never followed; sockets, FIFOs and devices are refused. `ignore` takes POSIX paths
 * relative to the root (folders with a trailing slash).
 */
export async function walkTree (root: string, options: WalkOptions = {}): Promise<WalkResult> {
  let info
  try {
    info = await lstat(root)
  } catch (err) {
    throw describeFsError(root, err)
  }
  if (info.isFile()) {
    if (options.budget != null && info.size > options.budget.maxBytes) throw new ContentTooLargeError(`${root} is ${info.size} bytes, more than its budget of ${options.budget.maxBytes}`)
    return { entries: [{ kind: 'file', path: '', absolute: root, size: info.size, mtimeMs: info.mtimeMs, dev: info.dev, ino: info.ino }], single: true, files: 1, bytes: info.size }
  }
  if (!info.isDirectory()) throw new ContentPathError(`${root} is neither a file nor a folder`)
  const rootDev = info.dev

  const result: WalkResult = { entries: [], single: false, files: 0, bytes: 0 }
  const checkBudget = (): void => {
    const budget = options.budget
    if (budget == null) return
    if (result.bytes > budget.maxBytes) throw new ContentTooLargeError(`${root} holds more than ${budget.maxBytes} bytes, its budget`)
    if (result.entries.length > budget.maxEntries) throw new ContentTooLargeError(`${root} holds more than ${budget.maxEntries} files and folders, its budget`)
  }
  const visit = async (dir: string, rel: string): Promise<void> => {
    let names: string[]
    try {
      const handle = await opendir(dir)
      names = []
      for await (const dirent of handle) names.push(dirent.name)
    } catch (err) {
      throw describeFsError(dir, err)
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of names) {
      const absolute = join(dir, name)
      const path = rel === '' ? name : posix.join(rel, name)
      let entry
      try {
        entry = await lstat(absolute)
      } catch (err) {
        throw describeFsError(absolute, err)
      }
      if (options.ignore?.ignores(entry.isDirectory() ? `${path}/` : path) === true) continue
      if (options.oneFileSystem === true && entry.dev !== rootDev) throw new UnsafeContentError(`${absolute} is on another file system than ${root}; refusing to read it`)
      if (entry.isSymbolicLink()) {
        result.entries.push({ kind: 'symlink', path, target: await readlink(absolute) })
      } else if (entry.isDirectory()) {
        result.entries.push({ kind: 'dir', path })
        await visit(absolute, path)
      } else if (entry.isFile()) {
        result.entries.push({ kind: 'file', path, absolute, size: entry.size, mtimeMs: entry.mtimeMs, dev: entry.dev, ino: entry.ino })
        result.files++
        result.bytes += entry.size
      } else {
        throw new ContentPathError(`${absolute} is not a regular file, folder or symlink; remove it or ignore it`)
      }
      checkBudget()
    }
  }
  await visit(root, '')
  return result
}
