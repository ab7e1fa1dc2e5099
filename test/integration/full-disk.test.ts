import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/** Mounting a small tmpfs needs root (as CI has). */
function canMount (): boolean {
  return process.getuid?.() === 0
}

describe('a full disk', () => {
  const r = resources()
  let mounted: string | undefined
  afterEach(async () => {
    await r.cleanup()
    if (mounted != null) {
      execFileSync('umount', [mounted])
      await rm(mounted, { recursive: true, force: true })
    }
    mounted = undefined
  })

  it.skipIf(!canMount())('fails an upload with a clear error, records nothing, and gc gives the space back', async () => {
    const home = await tempHome()
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', home])
    mounted = home
    const d = r.daemon(await startDaemon(home))
    const work = r.folder(await tempHome('floe-work-'))
    await mkdir(join(work, 'big'))
    await writeFile(join(work, 'big', 'data.bin'), randomBytes(8 * 1024 * 1024))

    const failed = await floe(['data', 'upload', join(work, 'big'), '--name', 'big', '--home', d.home])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toBe(`floe data upload: no space left on the disk of ${join(home, 'blocks')}; free some (floe gc removes unpinned blocks) and upload again\n`)
    expect(await floeJson(['data', 'ls', '--home', d.home])).toEqual([])

    // Whatever blocks did fit are unpinned now; gc frees exactly those.
    const stranded = await floeJson(['repo', 'stat', '--home', d.home])
    expect(stranded.pinnedBytes).toBe(0)
    const gc = await floeJson(['gc', '--home', d.home])
    expect(gc.freedBytes).toBe(stranded.bytes)
    expect((await floeJson(['repo', 'stat', '--home', d.home])).bytes).toBe(0)
    await writeFile(join(work, 'small.txt'), 'fits now\n')
    expect(await floeJson(['data', 'upload', join(work, 'small.txt'), '--name', 'small', '--home', d.home])).toMatchObject({ name: 'small', version: 1 })
  })
})
