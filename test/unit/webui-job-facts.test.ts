import { describe, expect, it } from 'vitest'
import { costSoFar, shapeOf } from '../../webui/src/job-facts.js'

const at = (ms: number): string => new Date(ms).toISOString()

describe('job facts the web UI shows', () => {
  it('costs a running job its price for the time it ran, never less than promised; an ended one its receipt', () => {
    const running = { receipt: null, state: 'running' as const, states: [{ state: 'running' as const, at: at(0) }], pricePerHour: 0.06, promised: 0 }
    expect(costSoFar(running, 1_800_000)).toBeCloseTo(0.03)
    expect(costSoFar({ ...running, promised: 0.05 }, 1_800_000)).toBe(0.05)
    expect(costSoFar({ ...running, states: [], state: 'matching' }, 1_800_000)).toBe(0)
    expect(costSoFar({ ...running, state: 'success', receipt: { cost: 0.2 } as any }, 1_800_000)).toBe(0.2)
  })
  it('writes a machine shape', () => {
    expect(shapeOf({ resources: { cpus: 2, memoryBytes: 4 * 2 ** 30, gpus: 1, gpuModel: 'a100' } as any })).toBe('2 CPU · 4 GiB · 1 GPU (a100)')
    expect(shapeOf({ resources: { cpus: 1, memoryBytes: 2 ** 30, gpus: 0 } as any })).toBe('1 CPU · 1 GiB')
  })
})
