import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { parseWorkspaceRef, workspaceRef } from '../protocol/workspaces/identity.js'

/**
 * `.floeproject`: the small file `floe init` writes in a folder to link it (and the folders
 * under it) to a project. Jobs run from there go to that project; a bare job number there
 * (`floe status 7`) means that project's job 7.
 */
export const LINK_FILE = '.floeproject'

const Link = z.object({ id: z.string().min(1), name: z.string().min(1) })
export type ProjectLink = z.infer<typeof Link>

/** A link file's text as `schema` reads it; anything else (not JSON, not that shape) is `PATH is not WHAT`. */
export function parseLinkFile<T> (path: string, text: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new Error(`${path} is not ${what}`)
  return parsed.data
}

/** The link of `folder` or the nearest folder above it, if any. */
export async function findProjectLink (folder: string): Promise<ProjectLink | undefined> {
  for (let dir = resolve(folder); ; dir = dirname(dir)) {
    let text: string | undefined
    try {
      text = await readFile(join(dir, LINK_FILE), 'utf8')
    } catch (err: any) {
      if (err?.code !== 'ENOENT' && err?.code !== 'ENOTDIR' && err?.code !== 'EACCES') throw err
    }
    if (text != null) return parseLinkFile(join(dir, LINK_FILE), text, Link, 'a project link; run floe init NAME there again')
    if (dirname(dir) === dir) return undefined
  }
}

export async function writeProjectLink (folder: string, link: ProjectLink): Promise<string> {
  const path = join(resolve(folder), LINK_FILE)
  await writeFileAtomic(path, JSON.stringify(link, null, 2) + '\n')
  return path
}

/** A bare `N` (or `N/output`) in a linked folder is that project's: `<id>/N`. For a data ref (--data), where a bare name is a dataset. */
export async function expandDataRef (ref: string, folder = '.'): Promise<string> {
  if (!/^\d+(\/output)?$/.test(ref)) return ref
  const link = await findProjectLink(folder)
  return link == null ? ref : `${link.id}/${ref}`
}

/**
 * A job or workspace ref: a bare `N` in a linked folder is that project's job (`<id>/N`), a
 * bare workspace `NAME` that project's workspace (`<id>/ws/NAME`); elsewhere both are the
 * default project's (the daemon's reading). Anything else is passed on as it is.
 */
export async function expandJobRef (ref: string, folder = '.'): Promise<string> {
  const workspace = parseWorkspaceRef(ref)
  if (!/^\d+(\/output)?$/.test(ref) && (workspace == null || workspace.project != null)) return ref
  const link = await findProjectLink(folder)
  if (link == null) return ref
  return workspace != null ? workspaceRef(link.id, workspace.name) : `${link.id}/${ref}`
}
