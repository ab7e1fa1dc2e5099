import { describe, expect, it } from 'vitest'
import { parseMetricLine } from '../../../protocol/jobs/metrics.js'

describe('training metric lines', () => {
  it('are read from FloydHub-style JSON lines, and anything else is a plain log line', () => {
    expect(parseMetricLine('{"metric": "loss", "value": 0.31, "step": 10}', 5)).toEqual({ metric: 'loss', point: { value: 0.31, step: 10, at: 5 } })
    expect(parseMetricLine('  {"metric":"acc","value":0.9,"epoch":2}  ', 6)).toEqual({ metric: 'acc', point: { value: 0.9, epoch: 2, at: 6 } })
    expect(parseMetricLine('{"metric": "loss", "value": 1}', 7)).toEqual({ metric: 'loss', point: { value: 1, at: 7 } })
    for (const line of ['loss 0.3', '{"metric": "loss"}', '{"metric": "loss", "value": "high"}', '{"metric": "", "value": 1}', '{"metric": "loss", "value": 1, "step": -1}', '{"metric": "loss", "value": 1, "colour": "red"}', '{"metric": "loss", "value": 1e999}', '{"metric": "loss", "value":']) {
      expect(parseMetricLine(line, 0), line).toBeNull()
    }
  })
})
