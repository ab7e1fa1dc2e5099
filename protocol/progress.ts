import { z } from 'zod'
import { CodeSnapshot } from './jobs/code-snapshot.js'

/**
 * Progress of a long operation (an upload, a fetch, an export), as the daemon's services
 * report it and the HTTP API streams it (`{"progress": …}` lines, see api/route.ts).
 */
export const Progress = z.object({
  phase: z.enum(['import', 'sync', 'fetch', 'export', 'build']),
  bytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  /** a line of text to show as it comes (a build's output), where there is one */
  message: z.string().max(4096).optional(),
  /** a job's code snapshot as listed, before its files are read (`floe run` prints it) */
  snapshot: CodeSnapshot.optional()
})
export type Progress = z.infer<typeof Progress>
