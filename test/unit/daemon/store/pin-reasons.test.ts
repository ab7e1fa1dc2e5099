import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isProjectPinKey, pinReasons } from '../../../../daemon/store/pin-reasons.js'
import { pinSet } from '../../../../daemon/store/pins.js'

const A = CID.parse('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
const B = CID.parse('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')

describe('pin reasons', () => {
  let dir: string
  let db: ClassicLevel<string, string>
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-pin-reasons-'))
    db = new ClassicLevel(dir)
    await db.open()
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  const roots = async (pins: ReturnType<typeof pinSet>): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {}
    for await (const root of pins.roots()) out[root.cid.toString()] = root.reasons
    return out
  }

  it('are the strings stored before they had a module (pins written then still match)', () => {
    expect(pinReasons.dataset('mnist', 3).text).toBe('dataset:mnist:3')
    expect(pinReasons.car('x.car').text).toBe('car:x.car')
    expect(pinReasons.project('P').text).toBe('project:P')
    expect(pinReasons.environment('busybox').text).toBe('env:busybox')
    expect(pinReasons.environmentCache().text).toBe('env-cache')
    expect(pinReasons.job('alice/mnist/7').text).toBe('job:alice/mnist/7')
    expect(pinReasons.output('alice/mnist/7').text).toBe('output:alice/mnist/7')
    expect(pinReasons.workspaceHome('alice/mnist/8').text).toBe('workspace-home:alice/mnist/8')
    expect(pinReasons.jobInput('J').text).toBe('job-input:J')
    expect(pinReasons.jobOutput('J').text).toBe('job-output:J')
    expect(pinReasons.workspaceSnapshot('J').text).toBe('workspace-snapshot:J')
    expect(pinReasons.project('P').key(A)).toBe(`pin!${A.toString()}!project:P`)
    expect(isProjectPinKey(pinReasons.project('P').key(A))).toBe(true)
    expect(isProjectPinKey(pinReasons.dataset('project', 1).key(A))).toBe(false)
  })

  it('remove what add wrote, and replace pins the new root before letting the old go', async () => {
    const pins = pinSet(db)
    const home = pinReasons.workspaceHome('alice/ws/1')
    await home.add(pins, A)
    await pinReasons.output('alice/ws/1').add(pins, A)
    expect(await roots(pins)).toEqual({ [A.toString()]: ['output:alice/ws/1', 'workspace-home:alice/ws/1'] })
    await home.replace(pins, A, A.toString()) // the same root again: kept
    expect((await roots(pins))[A.toString()]).toContain('workspace-home:alice/ws/1')
    await home.replace(pins, B, A.toString())
    expect(await roots(pins)).toEqual({ [A.toString()]: ['output:alice/ws/1'], [B.toString()]: ['workspace-home:alice/ws/1'] })
    await home.remove(pins, B)
    await pinReasons.output('alice/ws/1').remove(pins, A)
    expect(await roots(pins)).toEqual({})
  })
})
