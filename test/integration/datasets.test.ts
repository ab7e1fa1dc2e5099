import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientForHome } from '../../client/home-client.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { listTree, writeMixedTree } from '../helpers/trees.js'

describe('floe data and repo', () => {
  const r = resources()
  let d: RunningDaemon
  let work: string
  const cli = async (...args: string[]) => await floe([...args, '--home', d.home])
  const json = async (...args: string[]) => await floeJson([...args, '--home', d.home])

  beforeAll(async () => {
    d = r.daemon(await startDaemon(r.folder(await tempHome())))
    work = r.folder(await tempHome('floe-work-'))
    await writeMixedTree(join(work, 'mnist'))
  })
  afterAll(async () => { await r.cleanup() })

  it('uploads versions, lists them, and gets each back byte for byte', async () => {
    const v1 = await json('data', 'upload', join(work, 'mnist'), '--name', 'mnist', '-m', 'first cut')
    expect(v1).toMatchObject({ name: 'mnist', version: 1, files: 4, message: 'first cut', cidVersion: 1, chunker: 'fixed' })
    await writeFile(join(work, 'mnist', 'labels.csv'), '0,1,2\n')
    const v2 = await json('data', 'upload', join(work, 'mnist'), '--name', 'mnist')
    expect(v2).toMatchObject({ name: 'mnist', version: 2, files: 5 })
    expect(v2.cid).not.toBe(v1.cid)

    const listed = await json('data', 'ls', 'mnist')
    expect(listed.map((x: any) => [x.version, x.cid])).toEqual([[2, v2.cid], [1, v1.cid]])

    for (const [ref, dest] of [['mnist:1', 'out-v1'], ['mnist', 'out-latest'], [v1.cid, 'out-cid']]) {
      const got = await json('data', 'get', ref, join(work, dest))
      expect(got.cid).toBe(ref === 'mnist' ? v2.cid : v1.cid)
    }
    const expectedV1 = await listTree(join(work, 'mnist'))
    delete expectedV1['labels.csv']
    expect(await listTree(join(work, 'out-v1'))).toEqual(expectedV1)
    expect(await listTree(join(work, 'out-cid'))).toEqual(expectedV1)
    expect(await listTree(join(work, 'out-latest'))).toEqual(await listTree(join(work, 'mnist')))
  })

  it('numbers concurrent uploads to one name one after the other', async () => {
    const uploads = await Promise.all([1, 2, 3].map(async i => {
      const path = join(work, `concurrent-${i}.txt`)
      await writeFile(path, `upload ${i}\n`)
      return await json('data', 'upload', path, '--name', 'concurrent')
    }))
    expect(uploads.map((u: any) => u.version).sort()).toEqual([1, 2, 3])
    expect(new Set(uploads.map((u: any) => u.cid)).size).toBe(3)
    expect((await json('data', 'ls', 'concurrent')).map((x: any) => x.version)).toEqual([3, 2, 1])
  })

  it('reports clear errors for unknown refs, malformed CIDs and bad paths, recording nothing', async () => {
    const before = await json('data', 'ls')
    const cases: Array<[string[], string]> = [
      [['data', 'get', 'mnist:9', join(work, 'x')], 'floe data get: dataset "mnist" has no version 9 (latest is 2)\n'],
      [['data', 'get', 'nosuch', join(work, 'x')], 'floe data get: "nosuch" is neither a dataset name nor a valid CID; see floe data ls\n'],
      [['data', 'upload', join(work, 'missing'), '--name', 'x'], `floe data upload: ${join(work, 'missing')} does not exist\n`],
      [['data', 'upload', join(work, 'mnist'), '--name', '../evil'], 'floe data upload: "../evil" is not a valid dataset name: use 1-64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit\n'],
      [['data', 'get', 'mnist', join(work, 'mnist')], `floe data get: ${join(work, 'mnist')} already exists; choose a path that does not exist yet\n`]
    ]
    for (const [args, message] of cases) {
      const result = await cli(...args)
      expect(result.code, args.join(' ')).toBe(1)
      expect(result.stderr, args.join(' ')).toBe(message)
    }
    expect(await json('data', 'ls')).toEqual(before)

    // Through the API, each error keeps its name and HTTP status.
    const api = await clientForHome(d.home)
    await expect(api.call('datasetRemove', { ref: 'nosuch' })).rejects.toMatchObject({ name: 'DatasetNotFoundError', status: 404 })
    await expect(api.call('datasetUpload', { path: join(work, 'missing'), name: 'x' })).rejects.toMatchObject({ name: 'ContentPathError', status: 400 })
  })

  it('exports a CAR and imports it into another daemon; a corrupted CAR is refused and leaves nothing pinned', async () => {
    const car = join(work, 'mnist.car')
    const exported = await json('data', 'export', 'mnist:1', '--car', car)
    const v1 = (await json('data', 'ls', 'mnist')).find((x: any) => x.version === 1)
    expect(exported.root).toBe(v1.cid)

    const other = r.daemon(await startDaemon(r.folder(await tempHome())))
    const imported = await floeJson(['data', 'import', car, '--home', other.home])
    expect(imported).toMatchObject({ roots: [v1.cid], blocks: exported.blocks, bytes: exported.bytes })
    await floeJson(['data', 'get', v1.cid, join(work, 'from-car'), '--home', other.home])
    expect(await listTree(join(work, 'from-car'))).toEqual(await listTree(join(work, 'out-v1')))

    // Flip one byte inside the big file's first block (well past the CAR header).
    const bytes = await readFile(car)
    const bad = Buffer.from(bytes)
    const at = Math.floor(bad.length / 2)
    bad[at] = (bad[at] ?? 0) ^ 0xff
    await writeFile(join(work, 'bad.car'), bad)
    const third = r.daemon(await startDaemon(r.folder(await tempHome())))
    const refused = await floe(['data', 'import', join(work, 'bad.car'), '--home', third.home])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^floe data import: block \S+ in .*bad\.car does not match its CID; nothing from this CAR was recorded\n$/)
    expect(await floeJson(['repo', 'stat', '--home', third.home])).toMatchObject({ pins: 0, pinnedBlocks: 0 })
  })

  it('gc keeps what is pinned and frees the rest; repo stat tells the difference', async () => {
    const scratch = join(work, 'scratch')
    await mkdir(scratch)
    await writeFile(join(scratch, 'tmp.bin'), randomBytes(2 * 1024 * 1024 + 5))
    await json('data', 'upload', scratch, '--name', 'scratch')
    const before = await json('repo', 'stat')
    expect(before.pinnedBytes).toBe(before.bytes)

    const removed = await json('data', 'rm', 'scratch')
    expect(removed.map((x: any) => `${x.name}:${x.version}`)).toEqual(['scratch:1'])
    const unpinned = await json('repo', 'stat')
    expect(unpinned.bytes).toBe(before.bytes)
    expect(unpinned.pinnedBytes).toBeLessThan(before.pinnedBytes)

    const gc = await json('gc')
    expect(gc.freedBytes).toBe(unpinned.bytes - unpinned.pinnedBytes)
    expect(gc.freedBytes).toBeGreaterThan(2 * 1024 * 1024)
    const after = await json('repo', 'stat')
    expect(after.bytes).toBe(after.pinnedBytes)
    expect(after.pinnedBytes).toBe(unpinned.pinnedBytes)

    // What stayed pinned is still whole.
    await json('data', 'get', 'mnist', join(work, 'after-gc'))
    expect(await listTree(join(work, 'after-gc'))).toEqual(await listTree(join(work, 'mnist')))
    expect((await json('data', 'ls')).map((x: any) => x.name)).not.toContain('scratch')
    expect(await readdir(join(work, 'after-gc'))).toContain('labels.csv')
  })
})
