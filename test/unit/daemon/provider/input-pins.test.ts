import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { gcGuard } from '../../../../daemon/store/gc-guard.js'
import { inputRoots, pinInputs, unpinInputs } from '../../../../daemon/provider/input-pins.js'

const CODE = CID.parse('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
const DATA = CID.parse('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
const HOME = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')

/** an in-memory pin set: "cid reason" strings */
function memoryPins () {
  const held = new Set<string>()
  return {
    held,
    add: async (cid: CID, reason: string) => { held.add(`${cid.toString()} ${reason}`) },
    remove: async (cid: CID, reason: string) => { held.delete(`${cid.toString()} ${reason}`) }
  }
}

describe('a job\'s input pins', () => {
  it('pin a workspace\'s restored home with its code and inputs, and unpin every one of them', async () => {
    const spec = { code: CODE, inputs: [{ cid: DATA, mount: '/data' }], workspace: { home: HOME, idleTimeoutSeconds: 60, snapshotSeconds: 60 } }
    expect(inputRoots(spec).map(String)).toEqual([CODE, DATA, HOME].map(String))
    const pins = memoryPins()
    await pinInputs({ pins, guard: gcGuard() }, 'J', spec)
    expect([...pins.held].sort()).toEqual([CODE, DATA, HOME].map(cid => `${cid.toString()} job-input:J`).sort())
    await unpinInputs({ pins }, 'J', spec)
    expect(pins.held.size).toBe(0)
  })

  it('leave out a home a new workspace does not have', () => {
    expect(inputRoots({ code: CODE, inputs: [], workspace: { home: null, idleTimeoutSeconds: 60, snapshotSeconds: 60 } }).map(String)).toEqual([CODE.toString()])
    expect(inputRoots({ code: CODE, inputs: [] }).map(String)).toEqual([CODE.toString()])
  })
})
