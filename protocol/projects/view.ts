import { z } from 'zod'

/** A project as `floe projects --json` prints it. */
export const ProjectView = z.object({
  /** the CID of its genesis entry */
  id: z.string(),
  /** `owner/name` */
  name: z.string(),
  /** the owner's peer id */
  ownerPeer: z.string(),
  createdAt: z.string(),
  /** peer id → its job-number slot (the owner's is 0) */
  members: z.record(z.string(), z.number().int().nonnegative()),
  entries: z.number().int().nonnegative(),
  heads: z.array(z.string()),
  jobs: z.number().int().nonnegative(),
  /** whether this node may write to it */
  writable: z.boolean()
})
export type ProjectView = z.infer<typeof ProjectView>

/** One entry of a project's history, as `floe log --json` prints it. */
export const LogEntryView = z.object({
  cid: z.string(),
  clock: z.number().int().nonnegative(),
  author: z.string(),
  at: z.string(),
  type: z.string(),
  /** one line for people: "job 7 created: train baseline" */
  summary: z.string(),
  prev: z.array(z.string()),
  payload: z.unknown()
})
export type LogEntryView = z.infer<typeof LogEntryView>
