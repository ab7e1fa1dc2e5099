import { z } from 'zod'
import { CidString } from '../ids.js'

/** A dataset's name: what `floe data upload --name` accepts (no '/' or ':', which refs use). */
export const DATASET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** One version of a named dataset (`alice/mnist:3`): a UnixFS DAG and how it was imported. */
export const Dataset = z.object({
  name: z.string(),
  version: z.number().int().positive(),
  cid: CidString,
  bytes: z.number().nonnegative(),
  files: z.number().int().nonnegative(),
  createdAt: z.string(),
  message: z.string(),
  cidVersion: z.union([z.literal(0), z.literal(1)]),
  chunker: z.enum(['fixed', 'rabin']),
  /** any peer may fetch it (over /floe/dag and bitswap); absent or false: only peers entitled otherwise (a project's members, a job's provider) */
  public: z.boolean().optional(),
  /** the name any peer resolves it by (`OWNER-PEER-ID/NAME:N`): set on public versions, and on another owner's versions listed by name */
  shareName: z.string().optional(),
  /** the peer that published it, when it is another node's (listed by `floe data ls OWNER/NAME`) */
  owner: z.string().optional()
})
export type Dataset = z.infer<typeof Dataset>

/**
 * `floe data init NAME` writes it in a folder: the dataset `floe data upload` there adds a
 * version to. It is not part of the dataset (an upload leaves it out).
 */
export const DATA_LINK_FILE = '.floedata'
