import { CID } from 'multiformats/cid'
import type { Dataset } from '../../../protocol/datasets/dataset.js'
import { shareName, type NameRecord } from '../../../protocol/datasets/name-record.js'
import { AmbiguousRefError, DatasetNotFoundError } from '../errors.js'
import { getDataset, type DatasetIndex } from '../records.js'
import { parseNumberedRef, parseSharedRef, resolveDataRef, type ResolvedRef } from '../ref.js'
import type { NameService } from './name-service.js'
import { resolveOwner, type KnownOwner } from './owners.js'

export interface RefResolverComponents {
  index: DatasetIndex
  names: Pick<NameService, 'lookup'>
  /** the peers this node knows by a name (owners.ts) */
  knownOwners: () => Promise<KnownOwner[]>
  /** a job's output CID by job ref (`PROJECT/N`); undefined when there is no such job (FloydHub's `NAME/N` may name one) */
  jobOutput?: (ref: string) => Promise<CID | null | undefined>
}

/** A version as `floe data ls` lists it, from another owner's signed record. */
export function sharedDataset (record: NameRecord): Dataset {
  return {
    name: record.name,
    version: record.version,
    cid: record.cid,
    bytes: record.bytes,
    files: record.files,
    createdAt: record.publishedAt,
    message: record.message,
    cidVersion: record.cidVersion,
    chunker: record.chunker,
    public: true,
    shareName: shareName(record),
    owner: record.owner
  }
}

/**
 * Every data ref a user can write, to a CID: this node's `NAME[:N]` and CIDs (ref.ts), another
 * owner's `OWNER/NAME[:N]` and `OWNER/datasets/NAME[/N]` (signed name records), and
 * FloydHub's `NAME/N`: dataset NAME's version N, or, when no such version is held here, job N
 * of project NAME's output; when both exist the ref is refused, naming both spellings.
 */
export function refResolver ({ index, names, knownOwners, jobOutput }: RefResolverComponents) {
  const lookupShared = async (ref: string, options: { signal?: AbortSignal } = {}): Promise<{ owner: string, name: string, records: NameRecord[], version?: number } | undefined> => {
    const shared = parseSharedRef(ref)
    if (shared == null) return undefined
    const owner = await resolveOwner(shared.owner, knownOwners)
    return { owner, name: shared.name, version: shared.version, records: await names.lookup(owner, shared.name, shared.version, options) }
  }

  return {
    async resolve (ref: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedRef> {
      const shared = await lookupShared(ref, options)
      if (shared != null) {
        const record = shared.records[0]
        if (record == null) throw new DatasetNotFoundError(`${shared.owner} has published no dataset named "${shared.name}"; see floe data ls ${shared.owner}/${shared.name}`)
        return { cid: CID.parse(record.cid), record }
      }
      const numbered = parseNumberedRef(ref)
      if (numbered != null) {
        const dataset = await getDataset(index, numbered.name, numbered.version)
        const output = await jobOutput?.(ref)
        if (dataset != null && output !== undefined) {
          throw new AmbiguousRefError(`"${ref}" names both dataset ${numbered.name} version ${numbered.version} and job ${ref}: write ${numbered.name}:${numbered.version} for the dataset, or ${ref}/output for the job's output`)
        }
        if (dataset != null) return { cid: CID.parse(dataset.cid), dataset }
        if (output != null) return { cid: output }
        if (output === null) throw new DatasetNotFoundError(`job ${ref} has no output yet; mount the output of a finished job`)
        throw new DatasetNotFoundError(`"${ref}" is neither version ${numbered.version} of a dataset "${numbered.name}" here nor a job; see floe data ls and floe status`)
      }
      return await resolveDataRef(index, ref)
    },

    /** `OWNER/NAME`: the versions its owner published (newest first); undefined for a local name. */
    async listShared (ref: string, options: { signal?: AbortSignal } = {}): Promise<Dataset[] | undefined> {
      const shared = await lookupShared(ref, options)
      return shared?.records.map(sharedDataset)
    }
  }
}
export type RefResolver = ReturnType<typeof refResolver>
