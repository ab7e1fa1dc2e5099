import { describe, expect, it } from 'vitest'
import { FreezeGate } from '../../../../daemon/provider/freeze-gate.js'

const tick = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 5)) }

describe('FreezeGate: a workspace paused for a save of its home, and execs into it', () => {
  it('a save waits for an exec being started, and an exec asked for during the save waits for its end', async () => {
    const gate = new FreezeGate()
    const events: string[] = []
    let finishStart = (): void => {}
    const starting = gate.unfrozen(async () => {
      events.push('exec 1 starts')
      await new Promise<void>(resolve => { finishStart = resolve })
      events.push('exec 1 started')
    })
    await tick()
    const save = gate.freeze(async () => {
      events.push('paused')
      await tick()
      events.push('thawed')
      return 'home'
    })
    await tick()
    const second = gate.unfrozen(async () => { events.push('exec 2 starts') })
    await tick()
    expect(events).toEqual(['exec 1 starts'])
    finishStart()
    expect(await save).toBe('home')
    await Promise.all([starting, second])
    expect(events).toEqual(['exec 1 starts', 'exec 1 started', 'paused', 'thawed', 'exec 2 starts'])
  })

  it('a failed save or exec leaves the gate open', async () => {
    const gate = new FreezeGate()
    await expect(gate.freeze(async () => { throw new Error('pause failed') })).rejects.toThrow('pause failed')
    await expect(gate.unfrozen(async () => { throw new Error('no such container') })).rejects.toThrow('no such container')
    expect(await gate.unfrozen(async () => 'ran')).toBe('ran')
    expect(await gate.freeze(async () => 'saved')).toBe('saved')
  })

  it('two saves run one after the other, never both', async () => {
    const gate = new FreezeGate()
    let inside = 0
    let most = 0
    const save = async (): Promise<void> => { await gate.freeze(async () => { inside++; most = Math.max(most, inside); await tick(); inside-- }) }
    await Promise.all([save(), save(), save()])
    expect(most).toBe(1)
  })
})
