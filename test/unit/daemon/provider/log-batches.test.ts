import { describe, expect, it } from 'vitest'
import { encodeJobMessage, LOG_BATCH_BYTES, MAX_JOB_MESSAGE_BYTES } from '../../../../protocol/jobs/wire.js'
import { logBatches } from '../../../../daemon/provider/job-server.js'

const line = (seq: number, text: string) => ({ seq, at: seq, stream: 'stdout' as const, line: text })

describe('log batches', () => {
  it('keep every line in order, and each message under the protocol\'s size cap', () => {
    const lines = [...Array.from({ length: 500 }, (_, i) => line(i + 1, 'x'.repeat(100))), line(501, 'é'.repeat(64 * 1024 / 2)), line(502, 'tail')]
    const batches = logBatches(lines)
    expect(batches.flat().map(l => l.seq)).toEqual(lines.map(l => l.seq))
    expect(batches.length).toBeGreaterThan(1)
    for (const batch of batches) {
      expect(encodeJobMessage({ type: 'lines', lines: batch }).byteLength).toBeLessThanOrEqual(MAX_JOB_MESSAGE_BYTES)
      if (batch.length > 1) expect(batch.reduce((n, l) => n + Buffer.byteLength(l.line), 0)).toBeLessThanOrEqual(LOG_BATCH_BYTES)
    }
    expect(logBatches([])).toEqual([])
  })
})
