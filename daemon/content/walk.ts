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
  /**
   * Count what `ignore` leaves out (files and bytes, inside ignored folders too, up to
   * IGNORED_COUNT_CAP entries), each under the name this returns for the ignored path.
   */
  explainIgnored?: (path: string) => string
}

/** What a walk left out by its ignore rules (with `explainIgnored`). */
export interface IgnoredCount {
  files: number
  bytes: number
  /** per rule source: files and bytes */
  by: Record<string, { files: number, bytes: number }>
  /** ignored folders held more entries than were counted */
  capped: boolean
}

/** Entries inside ignored folders counted at most (a node_modules or .git can be huge). */
export const IGNORED_COUNT_CAP = 100_000

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
  ignored?: IgnoredCount
}

/** Ignored in code snapshots whatever the ignore files say. */
export const DEFAULT_IGNORES = ['.git', 'node_modules', '__pycache__', '.floeproject', 'floe-output']

/** The ignore files read at a code folder's root, in order (a later rule wins, as in one .gitignore). */
export const IGNORE_FILES = ['.gitignore', '.floeignore', '.floydignore']

export interface SnapshotRules {
  ignore: Ignore
  /** the source that ignores `path` (the last one whose rules do): an ignore file's name, `defaults`, or the run config's */
  explain: (path: string) => string
}

/**
 * gitignore rules for a code snapshot: the defaults, then `.gitignore`, `.floeignore` and
 * `.floydignore` at the root, then `extra` (a run config's `ignore:` list, named `extraName`).
 */
export async function snapshotRules (root: string, extra?: { name: string, patterns: string[] }): Promise<SnapshotRules> {
  const sources: Array<{ name: string, rules: Ignore }> = [{ name: 'defaults', rules: ignore().add(DEFAULT_IGNORES) }]
  for (const name of IGNORE_FILES) {
    try {
      sources.push({ name, rules: ignore().add(await readFile(join(root, name), 'utf8')) })
    } catch (err: any) {
      if (err?.code !== 'ENOENT' && err?.code !== 'ENOTDIR') throw new ContentPathError(`cannot read ${join(root, name)}: ${err?.message ?? err}; fix its permissions or remove it`)
    }
  }
  if (extra != null && extra.patterns.length > 0) sources.push({ name: extra.name, rules: ignore().add(extra.patterns) })
  const all = ignore()
  for (const source of sources) all.add(source.rules)
  return {
    ignore: all,
    explain: path => sources.findLast(source => source.rules.test(path).ignored)?.name ?? 'defaults'
  }
}

/** gitignore rules from the ignore files at the root, plus the defaults. */
export async function snapshotIgnore (root: string): Promise<Ignore> {
  return (await snapshotRules(root)).ignore
}

/** Files and bytes under an ignored folder, never following a link; stops at `budget` entries. */
async function countTree (dir: string, budget: { left: number }): Promise<{ files: number, bytes: number, capped: boolean }> {
  const count = { files: 0, bytes: 0, capped: false }
  const stack = [dir]
  while (stack.length > 0) {
    const current = stack.pop() as string
    let names: string[]
    try {
      names = (await opendir(current).then(async handle => { const list: string[] = []; for await (const d of handle) list.push(d.name); return list }))
    } catch {
      continue // unreadable: not counted (it is not uploaded either)
    }
    for (const name of names) {
      if (budget.left-- <= 0) return { ...count, capped: true }
      const info = await lstat(join(current, name)).catch(() => null)
      if (info == null) continue
      if (info.isDirectory()) stack.push(join(current, name))
      else if (info.isFile()) { count.files++; count.bytes += info.size }
    }
  }
  return count
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
  const explain = options.explainIgnored
  const ignored: IgnoredCount | undefined = explain == null ? undefined : { files: 0, bytes: 0, by: {}, capped: false }
  if (ignored != null) result.ignored = ignored
  const countBudget = { left: IGNORED_COUNT_CAP }
  const countIgnored = async (path: string, absolute: string, entry: Awaited<ReturnType<typeof lstat>>): Promise<void> => {
    if (ignored == null || explain == null) return
    const found = entry.isDirectory() ? await countTree(absolute, countBudget) : { files: entry.isFile() ? 1 : 0, bytes: entry.isFile() ? Number(entry.size) : 0, capped: false }
    const source = explain(entry.isDirectory() ? `${path}/` : path)
    const by = ignored.by[source] ?? (ignored.by[source] = { files: 0, bytes: 0 })
    by.files += found.files
    by.bytes += found.bytes
    ignored.files += found.files
    ignored.bytes += found.bytes
    if (found.capped) ignored.capped = true
  }
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
      if (options.ignore?.ignores(entry.isDirectory() ? `${path}/` : path) === true) {
        await countIgnored(path, absolute, entry)
        continue
      }
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
