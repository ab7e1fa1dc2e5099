import { z } from 'zod'

/** Schemas the route files share. */
export const PeerIdString = z.string().min(1).max(128)
export const AbsolutePath = z.string().min(1).max(4096).refine(p => p.startsWith('/'), { message: 'must be an absolute path' })
export const CidString = z.string().min(1).max(256)
/** `NAME`, `NAME:N` or a bare CID */
export const DataRef = z.string().min(1).max(256)
/** A project: its id, `OWNER/NAME` or `NAME` */
export const ProjectRef = z.string().min(1).max(256)
/** A job ref: N, PROJECT/N, OWNER/PROJECT/N or a job id. */
export const JobRef = z.string().min(1).max(256)

/** Progress of a long operation, sent as `{"progress": …}` lines (see route.ts). */
export const Progress = z.object({
  phase: z.enum(['import', 'sync', 'fetch', 'export']),
  bytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable()
})
export type Progress = z.infer<typeof Progress>
