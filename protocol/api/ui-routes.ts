import { z } from 'zod'
import { defineRoute } from './route.js'
import { LogLine } from '../jobs/job.js'
import { CidString, JobRef, Progress } from './schemas.js'

const PREFIX = '/api/v1'

/**
 * Routes the web UI needs beyond the CLI's: its sign-in link, browsing content, and uploads
 * from the browser. Downloads and upload bodies are raw bytes, not JSON: their paths are
 * below (the server registers them by hand; the browser builds their URLs).
 */
export const RAW_PATHS = {
  /** GET ?cid=&path=[&download=1]: a file's bytes */
  contentFile: `${PREFIX}/content/file`,
  /** GET ?cid=&name=: the whole DAG as a .tar */
  contentTar: `${PREFIX}/content/tar`,
  /** GET ?cid=: the whole DAG as a CARv1 file */
  contentCar: `${PREFIX}/content/car`,
  /** PUT ?id=&path=: one file of an upload (the body is its bytes) */
  uploadFile: `${PREFIX}/uploads/file`,
  /** GET ?ref=: a job's whole log as text (one line each, streamed), to save */
  jobLogText: `${PREFIX}/jobs/log.txt`,
  /** GET ?token=: exchanges a `floe ui` token for a session cookie, then shows the UI */
  uiLogin: '/ui/login',
  /** POST: ends the browser's session */
  uiSignOut: '/ui/sign-out',
  /** GET: `{ signedIn }` — whether this browser's session is live (asked before any API call, so a signed-out page logs no failed request) */
  uiSession: '/ui/session'
} as const

export const BrowseEntry = z.object({
  name: z.string(),
  type: z.enum(['file', 'directory', 'symlink']),
  size: z.number().nullable(),
  cid: z.string()
})
export type BrowseEntry = z.infer<typeof BrowseEntry>

/** The most matches one log search returns; the next page starts from its cursor. */
export const LOG_SEARCH_MAX = 1000

export const uiRoutes = {
  jobLogSearch: defineRoute({
    method: 'POST',
    path: `${PREFIX}/jobs/logs/search`,
    summary: "the lines of a job's whole log that contain a text (case-insensitive), at most `limit`, from line `after` on; `next` continues the search",
    input: z.object({ ref: JobRef, query: z.string().min(1).max(1000), after: z.number().int().nonnegative().default(0), limit: z.number().int().min(1).max(LOG_SEARCH_MAX).default(200) }).strict(),
    output: z.object({
      matches: z.array(LogLine),
      /** the cursor for more matches (pass it as `after`); null when the whole log was searched */
      next: z.number().int().nullable(),
      /** lines searched in this call */
      scanned: z.number().int().nonnegative()
    })
  }),
  uiToken: defineRoute({
    method: 'POST',
    path: `${PREFIX}/ui/token`,
    summary: 'a one-time sign-in link for the web UI (valid 5 minutes)',
    input: z.object({}),
    output: z.object({ url: z.string(), expiresAt: z.string() })
  }),
  contentList: defineRoute({
    method: 'GET',
    path: `${PREFIX}/content/ls`,
    summary: 'the entries of a folder (or the one file) at a path in UnixFS content; fetched from peers when not held',
    input: z.object({ cid: CidString, path: z.string().max(4096).default('') }).strict(),
    output: z.object({ cid: z.string(), path: z.string(), entries: z.array(BrowseEntry) })
  }),
  uploadCreate: defineRoute({
    method: 'POST',
    path: `${PREFIX}/uploads`,
    summary: 'starts an upload from the browser: its files are PUT one by one, then it is finished as a dataset version',
    input: z.object({}),
    output: z.object({ id: z.string() })
  }),
  uploadFinish: defineRoute({
    method: 'POST',
    path: `${PREFIX}/uploads/finish`,
    summary: "imports an upload's files as the next version of a dataset, then removes them",
    input: z.object({ id: z.string().regex(/^[0-9a-f]{32}$/), name: z.string().min(1).max(64), message: z.string().max(1000).default('') }).strict(),
    output: z.object({ name: z.string(), version: z.number(), cid: z.string(), bytes: z.number(), files: z.number() }),
    progress: Progress
  })
} as const
