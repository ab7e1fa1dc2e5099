import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'

/**
 * `.floeproject`: the small file `floe init` writes in a folder to link it (and the folders
 * under it) to a project. Jobs run from there go to that project; a bare job number there
 * (`floe status 7`) means that project's job 7.
 */
export const LINK_FILE = '.floeproject'

const Link = z.object({ id: z.string().min(1), name: z.string().min(1) })
export type ProjectLink = z.infer<typeof Link>

/** The link of `folder` or the nearest folder above it, if any. */
export async function findProjectLink (folder: string): Promise<ProjectLink | undefined> {
  for (let dir = resolve(folder); ; dir = dirname(dir)) {
    let text: string | undefined
    try {
      text = await readFile(join(dir, LINK_FILE), 'utf8')
    } catch (err: any) {
      if (err?.code !== 'ENOENT' && err?.code !== 'ENOTDIR' && err?.code !== 'EACCES') throw err
    }
    if (text != null) {
      const parsed = Link.safeParse(JSON.parse(text))
      if (!parsed.success) throw new Error(`${join(dir, LINK_FILE)} is not a project link; run floe init NAME there again`)
      return parsed.data
    }
    if (dirname(dir) === dir) return undefined
  }
}

export async function writeProjectLink (folder: string, link: ProjectLink): Promise<string> {
  const path = join(resolve(folder), LINK_FILE)
  await writeFileAtomic(path, JSON.stringify(link, null, 2) + '\n')
  return path
}

/** A bare `N` (or `N/output`) in a linked folder is that project's: `<id>/N`. */
export async function expandJobRef (ref: string, folder = '.'): Promise<string> {
  if (!/^\d+(\/output)?$/.test(ref)) return ref
  const link = await findProjectLink(folder)
  return link == null ? ref : `${link.id}/${ref}`
}
