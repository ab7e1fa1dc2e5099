import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { gcGuard } from '../../../../daemon/store/gc-guard.js'
import { pinSet } from '../../../../daemon/store/pins.js'

const A = CID.parse('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
const B = CID.parse('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')

describe('pinSet', () => {
  let dir: string
  let db: ClassicLevel<string, string>
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-pins-'))
    db = new ClassicLevel(dir)
    await db.open()
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps a root while any reason holds it, and survives concurrent pins', async () => {
    const pins = pinSet(db)
    await Promise.all([pins.add(A, 'dataset:a:1'), pins.add(A, 'dataset:a:2'), pins.add(B, 'car:x.car')])
    const roots = async () => { const out: Array<[string, string[]]> = []; for await (const r of pins.roots()) out.push([r.cid.toString(), r.reasons]); return out }
    expect(await roots()).toEqual([[B.toString(), ['car:x.car']], [A.toString(), ['dataset:a:1', 'dataset:a:2']]].sort((x, y) => x[0]! < y[0]! ? -1 : 1))
    await pins.remove(A, 'dataset:a:1')
    expect((await roots()).find(r => r[0] === A.toString())?.[1]).toEqual(['dataset:a:2'])
    await pins.remove(A, 'dataset:a:2')
    expect((await roots()).map(r => r[0])).toEqual([B.toString()])
  })
})

describe('gcGuard', () => {
  it('lets gc start only when writers are done, and holds new writers until gc ends', async () => {
    const guard = gcGuard()
    const events: string[] = []
    let finishWriter!: () => void
    const writer = guard.shared(async () => {
      events.push('write start')
      await new Promise<void>(resolve => { finishWriter = resolve })
      events.push('write end')
    })
    await new Promise(resolve => setImmediate(resolve))
    const gc = guard.exclusive(async () => {
      events.push('gc start')
      await new Promise(resolve => setTimeout(resolve, 20))
      events.push('gc end')
    })
    await new Promise(resolve => setImmediate(resolve))
    const lateWriter = guard.shared(async () => { events.push('late write') })
    finishWriter()
    await Promise.all([writer, gc, lateWriter])
    expect(events).toEqual(['write start', 'write end', 'gc start', 'gc end', 'late write'])
  })
})
