import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Blockstore } from 'interface-blockstore'
import { importer, type ImportCandidate, type ImporterOptions } from 'ipfs-unixfs-importer'
import { rabin } from 'ipfs-unixfs-importer/chunker'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FileChangedError, UnsafeContentError } from './errors.js'
import { walkTree, type TreeEntry, type WalkOptions, type WalkResult } from './walk.js'
import type { Ignore } from 'ignore'

export type CidVersion = 0 | 1
export type ChunkerName = 'fixed' | 'rabin'

export interface ImportProgress {
  bytes: number
  totalBytes: number
}

export interface ImportOptions {
  /** 1 (default): CIDv1, raw leaves, 1 MiB chunks. 0: `ipfs add`'s defaults (CIDv0, dag-pb leaves, 256 KiB, balanced). */
  cidVersion?: CidVersion
  /** fixed-size chunks (default), or content-defined (rabin) for data that changes by insertion */
  chunker?: ChunkerName
  ignore?: Ignore
  /** see WalkOptions: a budget, and one file system for folders a job could write */
  budget?: WalkOptions['budget']
  oneFileSystem?: boolean
  /** see WalkOptions: count what `ignore` leaves out, by source */
  explainIgnored?: WalkOptions['explainIgnored']
  /** the tree as listed, before any file is read (what will be imported, what was ignored) */
  onWalked?: (tree: Pick<WalkResult, 'files' | 'bytes' | 'ignored'>) => void
  signal?: AbortSignal
  onProgress?: (progress: ImportProgress) => void
}

export interface ImportSummary {
  cid: CID
  bytes: number
  files: number
  cidVersion: CidVersion
  chunker: ChunkerName
}

const READ_CHUNK = 1024 * 1024

/** Rabin bounds: at most 1 MiB per block, like the fixed chunker, so blocks stay bitswap-sized. */
const RABIN = { minChunkSize: 128 * 1024, avgChunkSize: 512 * 1024, maxChunkSize: 1024 * 1024 }

function importerOptions (cidVersion: CidVersion, chunker: ChunkerName): ImporterOptions {
  return {
    profile: cidVersion === 0 ? 'unixfs-v0-2015' : 'unixfs-v1-2025',
    ...(chunker === 'rabin' ? { chunker: rabin(RABIN) } : {})
  }
}

/**
 * Reads a file for the importer, and fails if it changes while being read (size, mtime, or
 * bytes seen differ), so a half-written file is never recorded. The file opened must be the
 * one walked (same device and inode, never through a link): a path swapped meanwhile for a
 * link elsewhere is refused, not read.
 */
async function * fileContent (entry: Extract<TreeEntry, { kind: 'file' }>, onBytes: (n: number) => void, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const handle = await open(entry.absolute, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const opened = await handle.stat()
    if (!opened.isFile() || opened.dev !== entry.dev || opened.ino !== entry.ino) {
      throw new UnsafeContentError(`${entry.absolute} is not the file that was listed (it was replaced while being imported); refusing to read it`)
    }
    let seen = 0
    const buffer = Buffer.allocUnsafe(READ_CHUNK)
    while (true) {
      signal?.throwIfAborted()
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, seen)
      if (bytesRead === 0) break
      seen += bytesRead
      if (seen > entry.size) break
      onBytes(bytesRead)
      yield Uint8Array.prototype.slice.call(buffer, 0, bytesRead)
    }
    const after = await handle.stat()
    if (seen !== entry.size || after.size !== entry.size || after.mtimeMs !== entry.mtimeMs) {
      throw new FileChangedError(`${entry.absolute} changed while it was being imported; import it again once it is complete`)
    }
  } finally {
    await handle.close()
  }
}

/** The importer refuses an empty folder; its node is the bare UnixFS directory. */
async function putEmptyDirectory (blockstore: Pick<Blockstore, 'put'>, cidVersion: CidVersion): Promise<CID> {
  const block = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [] }))
  const cid = CID.create(cidVersion, dagPb.code, await sha256.digest(block))
  await blockstore.put(cid, block)
  return cid
}

/**
 * Imports a file or folder into the block store as a UnixFS DAG. The same tree gives the
 * same CID on any machine: names in byte order, no mtimes or modes.
 */
export async function importPath (blockstore: Pick<Blockstore, 'put'>, path: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const cidVersion = options.cidVersion ?? 1
  const chunker = options.chunker ?? 'fixed'
  const tree = await walkTree(path, { ignore: options.ignore, budget: options.budget, oneFileSystem: options.oneFileSystem, explainIgnored: options.explainIgnored })
  options.onWalked?.(tree)
  let bytes = 0
  const onBytes = (n: number): void => {
    bytes += n
    options.onProgress?.({ bytes, totalBytes: tree.bytes })
  }
  const candidates = function * (): Generator<ImportCandidate> {
    for (const entry of tree.entries) {
      if (entry.kind === 'file') yield { path: entry.path, content: fileContent(entry, onBytes, options.signal) }
      else if (entry.kind === 'dir') yield { path: entry.path }
      else yield { path: entry.path, link: entry.target }
    }
  }
  let root: CID | undefined
  if (tree.single || tree.entries.length > 0) {
    for await (const result of importer(candidates(), blockstore, {
      ...importerOptions(cidVersion, chunker),
      wrapWithDirectory: !tree.single
    })) {
      root = result.cid
    }
  } else {
    root = await putEmptyDirectory(blockstore, cidVersion)
  }
  if (root == null) throw new Error(`the importer returned no root for ${path}`)
  options.onProgress?.({ bytes, totalBytes: tree.bytes })
  return { cid: root, bytes: tree.bytes, files: tree.files, cidVersion, chunker }
}
