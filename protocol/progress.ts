import { z } from 'zod'

/**
 * Progress of a long operation (an upload, a fetch, an export), as the daemon's services
 * report it and the HTTP API streams it (`{"progress": …}` lines, see api/route.ts).
 */
export const Progress = z.object({
  phase: z.enum(['import', 'sync', 'fetch', 'export']),
  bytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable()
})
export type Progress = z.infer<typeof Progress>
