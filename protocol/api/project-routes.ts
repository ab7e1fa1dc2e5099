import { z } from 'zod'
import { LogEntryView, ProjectView } from '../projects/view.js'
import { defineRoute } from './route.js'
import { AbsolutePath, DataRef, PeerIdString, ProjectRef } from './schemas.js'

const PREFIX = '/api/v1'

const Refused = z.array(z.object({ cid: z.string(), reason: z.string() }))

/** Routes of projects and their logs. */
export const projectRoutes = {
  projectInit: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects`,
    summary: 'the project by that name (this node\'s own first), or a new one owned by this node',
    input: z.object({ name: z.string().min(1).max(200) }).strict(),
    output: z.object({ project: ProjectView, created: z.boolean() })
  }),
  projectList: defineRoute({
    method: 'GET',
    path: `${PREFIX}/projects`,
    summary: 'every project this node holds',
    input: z.object({}),
    output: z.object({ projects: z.array(ProjectView) })
  }),
  projectShow: defineRoute({
    method: 'GET',
    path: `${PREFIX}/projects/show`,
    summary: 'one project: members, heads, counts',
    input: z.object({ project: ProjectRef }).strict(),
    output: ProjectView
  }),
  projectLog: defineRoute({
    method: 'GET',
    path: `${PREFIX}/projects/log`,
    summary: "a project's history, newest first (by clock, then CID: the same order on every member)",
    input: z.object({ project: ProjectRef, limit: z.coerce.number().int().positive().max(100_000).default(100) }).strict(),
    output: z.object({ project: z.string(), entries: z.array(LogEntryView) })
  }),
  projectMember: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/members`,
    summary: 'add or remove a member (the owner only); members may write to the log',
    input: z.object({ project: ProjectRef, peer: PeerIdString, action: z.enum(['add', 'remove']) }).strict(),
    output: ProjectView
  }),
  projectNote: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/note`,
    summary: "write a note into a project's log",
    input: z.object({ project: ProjectRef, text: z.string().min(1).max(4096) }).strict(),
    output: z.object({ cid: z.string() })
  }),
  projectAttach: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/attach`,
    summary: "record a dataset version in a project's log",
    input: z.object({ project: ProjectRef, dataset: DataRef }).strict(),
    output: z.object({ cid: z.string(), name: z.string(), version: z.number(), datasetCid: z.string() })
  }),
  projectSync: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/sync`,
    summary: "pull a project's new entries from every connected member now",
    input: z.object({ project: ProjectRef }).strict(),
    output: z.object({ added: z.number(), refused: z.number(), peers: z.number(), failed: z.array(z.object({ peer: z.string(), reason: z.string() })) })
  }),
  projectExport: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/export`,
    summary: "write a project's whole log as a CAR file (roots: its heads)",
    input: z.object({ project: ProjectRef, file: AbsolutePath }).strict(),
    output: z.object({ file: z.string(), entries: z.number(), bytes: z.number() })
  }),
  projectImport: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/import`,
    summary: 'take in the entries of a CAR file (each checked, as if received)',
    input: z.object({ file: AbsolutePath }).strict(),
    output: z.object({ added: z.number(), held: z.number(), refused: Refused, projects: z.array(z.string()) })
  }),
  projectRepair: defineRoute({
    method: 'POST',
    path: `${PREFIX}/projects/repair`,
    summary: 'rebuild every project view from the entries in the block store',
    input: z.object({}),
    output: z.object({ found: z.number(), kept: z.number(), refused: Refused, projects: z.number(), before: z.number() })
  })
} as const
