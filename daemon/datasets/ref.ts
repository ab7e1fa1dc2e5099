import { CID } from 'multiformats/cid'
import type { Dataset } from '../../protocol/datasets/dataset.js'
import { DatasetNotFoundError, InvalidRefError } from './errors.js'
import { getDataset, latestDataset, type DatasetIndex } from './records.js'

export interface ResolvedRef {
  cid: CID
  /** the dataset version the ref named, when it named one */
  dataset?: Dataset
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
