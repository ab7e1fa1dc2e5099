import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { DATA_LINK_FILE } from '../protocol/datasets/dataset.js'
import { parseLinkFile } from './project-link.js'

/**
 * `.floedata`: what `floe data init NAME` writes in a folder (as FloydHub's `floyd data
 * init`): that folder is dataset NAME, so `floe data upload` there, with no path, uploads it
 * as NAME's next version, and `floe data status` there shows NAME's versions. Only the folder
 * itself is linked (not those under it); the file is left out of every upload.
 */
const Link = z.object({ name: z.string().min(1) })

export async function findDataLink (folder: string): Promise<{ name: string } | undefined> {
  const path = join(resolve(folder), DATA_LINK_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') return undefined
    throw err
  }
  return parseLinkFile(path, text, Link, 'a dataset link; run floe data init NAME there again')
}

export async function writeDataLink (folder: string, name: string): Promise<string> {
  const path = join(resolve(folder), DATA_LINK_FILE)
  await writeFileAtomic(path, JSON.stringify({ name }, null, 2) + '\n')
  return path
}
