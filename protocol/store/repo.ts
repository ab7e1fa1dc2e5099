import { z } from 'zod'

/** What the block store holds (`floe repo stat`): all of it, and the part pins keep. */
export const RepoStat = z.object({
  blocks: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
  pinnedBlocks: z.number().int().nonnegative(),
  pinnedBytes: z.number().nonnegative(),
  pins: z.number().int().nonnegative(),
  path: z.string()
})
export type RepoStat = z.infer<typeof RepoStat>
