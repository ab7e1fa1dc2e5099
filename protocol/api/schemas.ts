import { z } from 'zod'
import { CidString, PeerIdString } from '../ids.js'
import { Progress } from '../progress.js'

/** Schemas the route files share. */
export { CidString, PeerIdString, Progress }
export const AbsolutePath = z.string().min(1).max(4096).refine(p => p.startsWith('/'), { message: 'must be an absolute path' })
/** `NAME`, `NAME:N` or a bare CID */
export const DataRef = z.string().min(1).max(256)
/** A project: its id, `OWNER/NAME` or `NAME` */
export const ProjectRef = z.string().min(1).max(256)
/** A job ref: N, PROJECT/N, OWNER/PROJECT/N or a job id. */
export const JobRef = z.string().min(1).max(256)

