import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core'
import { afterEach, describe, expect, it } from 'vitest'
import { exportDag, importPath } from '../../../../daemon/content/index.js'
import { saveWorkspace } from '../../../../daemon/provider/workspace-save.js'
import { openSavedWorkspace } from '../../../../daemon/workspaces/saved-workspace.js'
import { SAVED_MARKER, SAVED_MARKER_TEXT } from '../../../../protocol/workspaces/identity.js'

const folders: string[] = []
afterEach(async () => { await Promise.all(folders.splice(0).map(async f => { await rm(f, { recursive: true, force: true }) })) })
async function folder (files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'floe-saved-'))
  folders.push(dir)
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true })
    await writeFile(join(dir, name), text)
  }
  return dir
}

function components (blockstore: MemoryBlockstore, blocksPath: string) {
  return {
    blockstore,
    blocksPath,
    guard: { shared: async <T>(fn: () => Promise<T>): Promise<T> => await fn() },
    settings: () => ({ scratchBytes: 1 << 20, maxOutputBytes: 1 << 20, maxJobFiles: 100 })
  }
}
const noFetch = async (): Promise<any> => ({})

describe('a saved workspace: home and /code together', () => {
  it('is saved as { .floe-workspace, code/, home/ }, and a restart splits it into the same home and code', async () => {
    const blockstore = new MemoryBlockstore()
    const home = await folder({ 'notes.txt': 'note\n', '.bashrc': 'alias ll=ls\n' })
    const code = await folder({ 'train.py': 'print("edited")\n', 'lib/util.py': 'x = 1\n' })
    const saved = await saveWorkspace(components(blockstore, home), { home, code })
    const out = join(await folder({}), 'out')
    await exportDag(blockstore, saved.cid, out)
    expect((await readdir(out)).sort()).toEqual([SAVED_MARKER, 'code', 'home'])
    expect(await readFile(join(out, SAVED_MARKER), 'utf8')).toBe(SAVED_MARKER_TEXT)
    expect(await readFile(join(out, 'code', 'lib', 'util.py'), 'utf8')).toBe('x = 1\n')
    expect(await readFile(join(out, 'home', 'notes.txt'), 'utf8')).toBe('note\n')

    const split = await openSavedWorkspace({ blockstore, requireDag: noFetch }, saved.cid)
    // the same CIDs as the folders imported alone: what a restart's provider restores
    expect(split.home.toString()).toBe((await importPath(new MemoryBlockstore(), home)).cid.toString())
    expect(split.code?.toString()).toBe((await importPath(new MemoryBlockstore(), code)).cid.toString())
    // the same folders give the same save
    expect((await saveWorkspace(components(new MemoryBlockstore(), home), { home, code })).cid.toString()).toBe(saved.cid.toString())
  })

  it('a home saved before /code was kept (the home folder itself) restores as the home, with the run\'s own code', async () => {
    const blockstore = new MemoryBlockstore()
    // even one holding folders named home and code: without the marker it is a home
    const old = await folder({ 'home/a.txt': 'a\n', 'code/b.txt': 'b\n', 'notes.txt': 'n\n' })
    const imported = await importPath(blockstore, old)
    expect(await openSavedWorkspace({ blockstore, requireDag: noFetch }, imported.cid)).toEqual({ home: imported.cid, code: null })
    const single = await importPath(blockstore, join(old, 'notes.txt'))
    expect(await openSavedWorkspace({ blockstore, requireDag: noFetch }, single.cid)).toEqual({ home: single.cid, code: null })
  })

  it('a marker beside other entries is not the layout: the whole folder is the home', async () => {
    const blockstore = new MemoryBlockstore()
    const tricky = await folder({ [SAVED_MARKER]: SAVED_MARKER_TEXT, 'home/a': 'a', 'code/b': 'b', extra: 'x' })
    const imported = await importPath(blockstore, tricky)
    expect(await openSavedWorkspace({ blockstore, requireDag: noFetch }, imported.cid)).toEqual({ home: imported.cid, code: null })
  })
})
