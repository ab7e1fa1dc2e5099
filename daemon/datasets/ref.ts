import { CID } from 'multiformats/cid'
import { DATASET_NAME_PATTERN, type Dataset } from '../../protocol/datasets/dataset.js'
import type { NameRecord } from '../../protocol/datasets/name-record.js'
import { DatasetNotFoundError, InvalidRefError } from './errors.js'
import { getDataset, latestDataset, type DatasetIndex } from './records.js'

export interface ResolvedRef {
  cid: CID
  /** the dataset version the ref named, when it named one */
  dataset?: Dataset
  /** another owner's signed name record, when the ref was a shared name (names/resolve.ts) */
  record?: NameRecord
}

function parseCid (text: string): CID | undefined {
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/** `NAME:N` → its parts; anything else → undefined. */
export function parseVersionedRef (ref: string): { name: string, version: number } | undefined {
  const match = /^(.+):(\d+)$/.exec(ref)
  return match == null ? undefined : { name: match[1] ?? '', version: Number(match[2]) }
}

/** Another owner's dataset, by its shared name: `OWNER/NAME:N` (or its latest versions without `:N`). */
export interface SharedRef {
  /** a peer id, or a name this node knows a peer by (see names/owners.ts) */
  owner: string
  name: string
  version?: number
}

const SEGMENT = '[^/:\\s]+'
const FLOYD_SHARED = new RegExp(`^(${SEGMENT})/datasets/(${SEGMENT})(?:/(\\d+)|:(\\d+))?$`)
const SHARED = new RegExp(`^(${SEGMENT})/(${SEGMENT})(?::(\\d+))?$`)

function checkedShared (ref: string, owner: string, name: string, version: string | undefined): SharedRef {
  if (!DATASET_NAME_PATTERN.test(name)) throw new InvalidRefError(`"${ref}": "${name}" is not a dataset name (1-64 letters, digits, '.', '_' or '-')`)
  const n = version == null ? undefined : Number(version)
  if (n != null && (!Number.isSafeInteger(n) || n < 1)) throw new InvalidRefError(`"${ref}": a version is a number from 1`)
  return n == null ? { owner, name } : { owner, name, version: n }
}

/**
 * A shared dataset ref: `OWNER/NAME`, `OWNER/NAME:N`, or FloydHub's `OWNER/datasets/NAME[/N]`.
 * Undefined for every other shape: a local `NAME[:N]` or CID (no '/'), FloydHub's `NAME/N`
 * (see parseNumberedRef), a job output `PROJECT/N/output`.
 */
export function parseSharedRef (ref: string): SharedRef | undefined {
  const floyd = FLOYD_SHARED.exec(ref)
  if (floyd != null) return checkedShared(ref, floyd[1] ?? '', floyd[2] ?? '', floyd[3] ?? floyd[4])
  const shared = SHARED.exec(ref)
  if (shared == null || /^\d+$/.test(shared[2] ?? '')) return undefined
  return checkedShared(ref, shared[1] ?? '', shared[2] ?? '', shared[3])
}

/**
 * FloydHub's `NAME/N`: version N of dataset NAME, which in floe is also the spelling of job N
 * of project NAME. The caller decides (names/resolve.ts: whichever exists; both is an error).
 */
export function parseNumberedRef (ref: string): { name: string, version: number } | undefined {
  const match = new RegExp(`^(${SEGMENT})/(\\d+)$`).exec(ref)
  return match == null ? undefined : { name: match[1] ?? '', version: Number(match[2]) }
}

/**
 * `NAME` (latest version), `NAME:N`, or a bare CID. A name that is also a valid CID string
 * resolves to the dataset of that name.
 */
export async function resolveDataRef (index: DatasetIndex, ref: string): Promise<ResolvedRef> {
  const versioned = parseVersionedRef(ref)
  if (versioned != null) {
    const { name, version } = versioned
    const dataset = await getDataset(index, name, version)
    if (dataset == null) {
      const latest = await latestDataset(index, name)
      throw new DatasetNotFoundError(latest == null
        ? `no dataset named "${name}"; see floe data ls`
        : `dataset "${name}" has no version ${version} (latest is ${latest.version})`)
    }
    return { cid: CID.parse(dataset.cid), dataset }
  }
  if (ref.includes(':')) throw new InvalidRefError(`"${ref}" is not a data ref: expected NAME, NAME:N or a CID`)
  const dataset = await latestDataset(index, ref)
  if (dataset != null) return { cid: CID.parse(dataset.cid), dataset }
  const cid = parseCid(ref)
  if (cid != null) return { cid }
  throw new DatasetNotFoundError(`"${ref}" is neither a dataset name nor a valid CID; see floe data ls`)
}
