import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { listTree, writeMixedTree } from '../helpers/trees.js'

describe('floe data get from another daemon', () => {
  const r = resources()
  let holder: RunningDaemon
  let work: string
  let dataset: any
  let holderAddr: string

  beforeAll(async () => {
    holder = r.daemon(await startDaemon(r.folder(await tempHome())))
    work = r.folder(await tempHome('floe-work-'))
    await writeMixedTree(join(work, 'src'), { bigBytes: 5 * 1024 * 1024 + 3 })
    dataset = await floeJson(['data', 'upload', join(work, 'src'), '--name', 'shared', '--public', '--home', holder.home])
    holderAddr = (await floeJson(['id', '--home', holder.home])).addresses[0]
  })
  afterAll(async () => { await r.cleanup() })

  for (const transport of ['bulk', 'bitswap'] as const) {
    it(`round-trips a mixed tree byte for byte over ${transport}, with equal CIDs on both sides`, async () => {
      const fetcher = r.daemon(await startDaemon(r.folder(await tempHome())))
      await floeJson(['connect', holderAddr, '--home', fetcher.home])
      const dest = join(work, `via-${transport}`)
      const got = await floeJson(['data', 'get', dataset.cid, dest, '--transport', transport, '--home', fetcher.home])
      expect(got).toMatchObject({ cid: dataset.cid, via: transport, bytes: dataset.bytes, files: dataset.files })
      expect(await listTree(dest)).toEqual(await listTree(join(work, 'src')))
      // The fetcher re-imports what it received: the same CID as the holder's.
      const again = await floeJson(['data', 'upload', dest, '--name', 'copy', '--home', fetcher.home])
      expect(again.cid).toBe(dataset.cid)
      // Now held locally: a second get needs no peer.
      const local = await floeJson(['data', 'get', dataset.cid, `${dest}-2`, '--home', fetcher.home])
      expect(local.via).toBe('local')
    })
  }

  it('fetches only what a new version adds when the previous one is held', async () => {
    const fetcher = r.daemon(await startDaemon(r.folder(await tempHome())))
    await floeJson(['connect', holderAddr, '--home', fetcher.home])
    await floeJson(['data', 'get', dataset.cid, join(work, 'v1-copy'), '--home', fetcher.home])
    // v2: the same tree plus one small file
    await writeFile(join(work, 'src', 'notes.txt'), 'one more file\n')
    const v2 = await floeJson(['data', 'upload', join(work, 'src'), '--name', 'shared', '--public', '--home', holder.home])
    const got = await floeJson(['data', 'get', 'shared', join(work, 'v2-copy'), '--home', holder.home])
    expect(got.cid).toBe(v2.cid)
    const fetched = await floeJson(['data', 'get', v2.cid, join(work, 'v2-fetched'), '--transport', 'bulk', '--home', fetcher.home])
    expect(fetched.via).toBe('bulk')
    // the new file and the folder nodes above it, not the 5 MiB already held
    expect(fetched.fetchedBytes).toBeGreaterThan(0)
    expect(fetched.fetchedBytes).toBeLessThan(4096)
    expect(await listTree(join(work, 'v2-fetched'))).toEqual(await listTree(join(work, 'src')))
  })

  it('says plainly when no connected peer has the content', async () => {
    const lonely = r.daemon(await startDaemon(r.folder(await tempHome())))
    const result = await floe(['data', 'get', dataset.cid, join(work, 'nothing'), '--transport', 'bulk', '--home', lonely.home])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`floe data get: ${dataset.cid} is not held here and no peer is connected to fetch it from; connect one with floe connect\n`)
  })
})
