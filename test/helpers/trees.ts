import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, readlink, lstat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A tree with what imports get wrong: nested and empty folders, a zero-byte file, unicode
 * names, a multi-chunk file, and symlinks (one pointing out of the tree).
 */
export async function writeMixedTree (root: string, options: { bigBytes?: number } = {}): Promise<void> {
  await mkdir(join(root, 'nested', 'deeper', 'deepest'), { recursive: true })
  await mkdir(join(root, 'empty-folder'), { recursive: true })
  await writeFile(join(root, 'zero-bytes.txt'), '')
  await writeFile(join(root, 'naïve café 日本語.txt'), 'unicode names travel too\n')
  await writeFile(join(root, 'nested', 'a.json'), JSON.stringify({ hello: 'world' }))
  await writeFile(join(root, 'nested', 'deeper', 'deepest', 'big.bin'), randomBytes(options.bigBytes ?? 3 * 1024 * 1024 + 17))
  await symlink('nested/a.json', join(root, 'link-inside'))
  await symlink('../../etc/passwd', join(root, 'nested', 'link-outside'))
}

export type TreeListing = Record<string, { kind: 'file', bytes: string } | { kind: 'dir' } | { kind: 'symlink', target: string }>

/** Everything in a tree, for deep equality: files by content, symlinks by target. */
export async function listTree (root: string, rel = ''): Promise<TreeListing> {
  const out: TreeListing = {}
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`
    const info = await lstat(join(root, path))
    if (info.isSymbolicLink()) out[path] = { kind: 'symlink', target: await readlink(join(root, path)) }
    else if (info.isDirectory()) {
      out[path] = { kind: 'dir' }
      Object.assign(out, await listTree(root, path))
    } else out[path] = { kind: 'file', bytes: (await readFile(join(root, path))).toString('base64') }
  }
  return out
}
