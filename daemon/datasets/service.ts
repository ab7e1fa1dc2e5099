import type { ClassicLevel } from 'classic-level'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { DATA_LINK_FILE, type Dataset } from '../../protocol/datasets/dataset.js'
import type { Progress } from '../../protocol/progress.js'
import type { DagFetched, RequireDag, Transport } from '../content/require-dag.js'
import { DEFAULT_MAX_ENTRIES, exportDag, importPath, measureDag, type ChunkerName, type CidVersion, type ExportSummary } from '../content/index.js'
import ignore from 'ignore'
import { pinKey } from '../store/pins.js'
import { pinReasons } from '../store/pin-reasons.js'
import { syncBlocks } from '../store/stores.js'
import { StoreFullError } from '../store/errors.js'
import type { GcGuard } from '../store/gc-guard.js'
import { DatasetNotFoundError } from './errors.js'
import type { Publishing } from './publishing.js'
import { checkDatasetName, datasetKey, latestDataset, listDatasets } from './records.js'
import { parseVersionedRef, resolveDataRef, type ResolvedRef } from './ref.js'
import type { NameService } from './names/name-service.js'
import type { RefResolver } from './names/resolve.js'

export interface DatasetComponents {
  /** the local store: imports write here, exports read here */
  blockstore: Pick<Blockstore, 'put' | 'get'>
  /** makes a DAG whole locally, from peers when needed (content/require-dag.ts) */
  requireDag: RequireDag
  blocksPath: string
  index: ClassicLevel<string, string>
  guard: GcGuard
  /** who may fetch a version from this node: public ones anyone (see publishing.ts) */
  publishing: Publishing
  /** signed name records of public versions (names/name-service.ts): any peer resolves `SELF/NAME:N` */
  names?: Pick<NameService, 'sign' | 'withdraw' | 'highestSigned'>
  /** every ref shape, shared names included (names/resolve.ts); without it, this node's own names and CIDs */
  resolver?: Pick<RefResolver, 'resolve' | 'listShared'>
  /** this node's peer id: the OWNER of the names it shares */
  self?: string
}

export interface UploadRequest {
  path: string
  name: string
  message: string
  cidVersion: CidVersion
  chunker: ChunkerName
  /** serve it to any peer (default: private) */
  public?: boolean
}

export interface OperationOptions {
  signal?: AbortSignal
  onProgress?: (progress: Progress) => void
}

function pinReason (dataset: Pick<Dataset, 'name' | 'version'>): string {
  return pinReasons.dataset(dataset.name, dataset.version).text
}

function describeStoreError (err: any, blocksPath: string): unknown {
  if (err?.code === 'ENOSPC' || /ENOSPC/.test(String(err?.message))) {
    return new StoreFullError(`no space left on the disk of ${blocksPath}; free some (floe gc removes unpinned blocks) and upload again`)
  }
  return err
}

/**
 * Datasets: named, versioned UnixFS DAGs. A version is recorded only once its blocks are
 * durable, and in the same atomic index write as its pin, so a crash or a failed import
 * never leaves a half-imported version behind (its stray blocks go with the next gc).
 */
export function datasetService ({ blockstore, requireDag, blocksPath, index, guard, publishing, names, resolver, self }: DatasetComponents) {
  const resolveRef = async (ref: string, signal?: AbortSignal): Promise<ResolvedRef> => resolver != null ? await resolver.resolve(ref, { signal }) : await resolveDataRef(index, ref)
  // past every version ever shared: a name removed and uploaded again never reuses a number peers may hold
  const nextVersion = async (name: string): Promise<number> => Math.max((await latestDataset(index, name))?.version ?? 0, await names?.highestSigned(name) ?? 0) + 1
  const withShareName = (d: Dataset): Dataset => d.public === true && self != null ? { ...d, shareName: `${self}/${d.name}:${d.version}` } : d

  // Versions of one name are numbered one after the other: uploads to a name take turns.
  const turns = new Map<string, Promise<unknown>>()
  const inTurn = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const previous = turns.get(name) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(run)
    turns.set(name, next)
    try {
      return await next
    } finally {
      if (turns.get(name) === next) turns.delete(name)
    }
  }

  /**
   * Records content already durable as the next version of `name`, with its pin, in one atomic
   * write (in the name's turn); a public version is shared before it is listed and signed after.
   */
  const recordVersion = async (name: string, content: Omit<Dataset, 'name' | 'version' | 'createdAt'>): Promise<Dataset> => await inTurn(name, async () => {
    const version = await nextVersion(name)
    const dataset: Dataset = { name, version, createdAt: new Date().toISOString(), ...content }
    const cid = CID.parse(dataset.cid)
    // shared before it is listed: a crash between leaves a grant that the next publish or rm settles
    if (dataset.public === true) await publishing.publish(cid, pinReason(dataset))
    await index.batch([
      { type: 'put', key: datasetKey(name, version), value: JSON.stringify(dataset) },
      { type: 'put', key: pinKey(cid, pinReason(dataset)), value: '' }
    ], { sync: true })
    if (dataset.public === true) await names?.sign(dataset)
    return withShareName(dataset)
  })

  // Import, make durable, then record version and pin in one atomic write.
  const importVersion = async (name: string, request: UploadRequest, options: OperationOptions): Promise<Dataset> => {
    let imported
    try {
      imported = await importPath(blockstore, request.path, {
        // the folder's own link to its dataset name (floe data init) is not part of it
        ignore: ignore().add(`/${DATA_LINK_FILE}`),
        cidVersion: request.cidVersion,
        chunker: request.chunker,
        signal: options.signal,
        onProgress: p => options.onProgress?.({ phase: 'import', bytes: p.bytes, totalBytes: p.totalBytes })
      })
      options.onProgress?.({ phase: 'sync', bytes: imported.bytes, totalBytes: imported.bytes })
      await syncBlocks(blocksPath)
    } catch (err) {
      throw describeStoreError(err, blocksPath)
    }
    return await recordVersion(name, {
      cid: imported.cid.toString(),
      bytes: imported.bytes,
      files: imported.files,
      message: request.message,
      cidVersion: imported.cidVersion,
      chunker: imported.chunker,
      public: request.public === true
    })
  }

  return {
    async upload (request: UploadRequest, options: OperationOptions = {}): Promise<Dataset> {
      const name = checkDatasetName(request.name)
      return await guard.shared(async () => await importVersion(name, request, options))
    },

    /**
     * `floe data add JOB/output`: content already held (a job's output) as the next version
     * of `name`, under its own CID: nothing is copied, the version pins the same DAG.
     */
    async adopt (request: { name: string, cid: CID, message: string }, options: OperationOptions = {}): Promise<Dataset> {
      const name = checkDatasetName(request.name)
      return await guard.shared(async () => {
        await requireDag(request.cid, { signal: options.signal })
        const measured = await measureDag(blockstore, request.cid, { maxBytes: Number.MAX_SAFE_INTEGER, maxEntries: DEFAULT_MAX_ENTRIES }, options.signal)
        return await recordVersion(name, {
          cid: request.cid.toString(),
          bytes: measured.bytes,
          files: measured.files,
          message: request.message,
          cidVersion: request.cid.version === 0 ? 0 : 1,
          chunker: 'fixed',
          public: false
        })
      })
    },

    /** this node's versions (one name, or all), or another owner's published ones (`OWNER/NAME`) */
    async list (name?: string, options: { signal?: AbortSignal } = {}): Promise<Dataset[]> {
      const shared = name == null ? undefined : await resolver?.listShared(name, options)
      if (shared != null) return shared
      return (await listDatasets(index, name)).map(withShareName)
    },

    async resolve (ref: string): Promise<CID> {
      return (await resolveRef(ref)).cid
    },

    /**
     * Writes a dataset or CID to `dest`, fetching what is not held from connected peers first
     * (bulk protocol, then bitswap; `transport` picks one). Fetched blocks stay as cache
     * until gc.
     */
    async get (ref: string, dest: string, options: OperationOptions & { transport?: Transport } = {}): Promise<ExportSummary & { cid: string, via: DagFetched['via'], fetchedBytes: number | null, fetchMs: number | null }> {
      const { cid } = await resolveRef(ref, options.signal)
      return await guard.shared(async () => {
        const fetched = await requireDag(cid, {
          transport: options.transport ?? 'auto',
          signal: options.signal,
          onProgress: bytes => options.onProgress?.({ phase: 'fetch', bytes, totalBytes: null })
        })
        const summary = await exportDag(blockstore, cid, dest, {
          signal: options.signal,
          onProgress: p => options.onProgress?.({ phase: 'export', bytes: p.bytes, totalBytes: p.totalBytes })
        })
        return { ...summary, cid: cid.toString(), via: fetched.via, fetchedBytes: fetched.bytes, fetchMs: fetched.via === 'local' ? null : fetched.ms }
      })
    },

    /**
     * Makes a version public (any peer may fetch it, over /floe/dag and bitswap) or private
     * again (only peers entitled otherwise). `NAME` names its latest version.
     */
    async publish (ref: string, makePublic: boolean): Promise<Dataset> {
      const { dataset } = await resolveDataRef(index, ref)
      if (dataset == null) throw new DatasetNotFoundError(`"${ref}" is not a dataset version here; publish one of floe data ls`)
      return await inTurn(dataset.name, async () => {
        const cid = CID.parse(dataset.cid)
        if (makePublic) await publishing.publish(cid, pinReason(dataset))
        else await publishing.unpublish(cid, pinReason(dataset))
        const updated: Dataset = { ...dataset, public: makePublic }
        await index.put(datasetKey(dataset.name, dataset.version), JSON.stringify(updated), { sync: true })
        if (makePublic) await names?.sign(updated)
        else await names?.withdraw(updated)
        return withShareName(updated)
      })
    },

    /** `NAME:N` removes that version, `NAME` every version; the blocks stay until gc. */
    async remove (ref: string): Promise<Dataset[]> {
      const removed = parseVersionedRef(ref) != null
        ? [(await resolveDataRef(index, ref)).dataset].filter((d): d is Dataset => d != null)
        : await listDatasets(index, checkDatasetName(ref))
      if (removed.length === 0) throw new DatasetNotFoundError(`no dataset named "${ref}"; see floe data ls`)
      await index.batch(removed.flatMap(d => [
        { type: 'del' as const, key: datasetKey(d.name, d.version) },
        { type: 'del' as const, key: pinKey(CID.parse(d.cid), pinReason(d)) }
      ]), { sync: true })
      for (const d of removed) {
        if (d.public === true) await publishing.unpublish(CID.parse(d.cid), pinReason(d))
        await names?.withdraw(d)
      }
      return removed
    }
  }
}
