import { describe, expect, it } from 'vitest'
import { admitSamples, MAX_SYSTEM_SAMPLES_PER_MESSAGE, parseNvidiaSmi, summarizeSystem, type SystemSample } from '../../../protocol/jobs/system-metrics.js'
import { decodeProviderMessage, encodeJobMessage } from '../../../protocol/jobs/wire.js'
import * as dagCbor from '@ipld/dag-cbor'

const MiB = 1024 * 1024

describe('nvidia-smi output', () => {
  it('reads `--query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`, the GPUs asked for only', () => {
    // as an 8-GPU machine prints it (memory in MiB)
    const text = '0, 97, 40213, 81559\n1, 0, 4, 81559\n2, 45, 20000, 81559\n'
    expect(parseNvidiaSmi(text)).toEqual([
      { index: 0, utilPercent: 97, memoryBytes: 40213 * MiB, memoryTotalBytes: 81559 * MiB },
      { index: 1, utilPercent: 0, memoryBytes: 4 * MiB, memoryTotalBytes: 81559 * MiB },
      { index: 2, utilPercent: 45, memoryBytes: 20000 * MiB, memoryTotalBytes: 81559 * MiB }
    ])
    expect(parseNvidiaSmi(text, [2]).map(g => g.index)).toEqual([2])
  })

  it('reads fields it cannot (MIG, old boards) as 0 and skips what is not a GPU line', () => {
    const text = 'index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n0, [N/A], 512, 16384\n1, [Not Supported], [Not Supported], 16384\nNVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n\n7, 150, -3, 1\n'
    expect(parseNvidiaSmi(text)).toEqual([
      { index: 0, utilPercent: 0, memoryBytes: 512 * MiB, memoryTotalBytes: 16384 * MiB },
      { index: 1, utilPercent: 0, memoryBytes: 0, memoryTotalBytes: 16384 * MiB },
      // out of range values are bounded
      { index: 7, utilPercent: 100, memoryBytes: 0, memoryTotalBytes: 1 * MiB }
    ])
    expect(parseNvidiaSmi('')).toEqual([])
  })
})

describe('system samples from a provider', () => {
  const sample = (at: number, cpuPercent = 50): SystemSample => ({ at, cpuPercent, memoryBytes: 1000 })

  it('are admitted at most ~1 a second and never from the future', () => {
    const now = 1_000_000_000
    const { kept, dropped } = admitSamples(now - 10_000, [sample(now - 10_500), sample(now - 9000), sample(now - 8990), sample(now - 8000), sample(now + 10 * 60_000)], now)
    expect(kept.map(s => s.at)).toEqual([now - 9000, now - 8000])
    expect(dropped).toBe(3)
  })

  it('out of bounds or unknown fields, or too many in one message, break the protocol (the stream is cut)', () => {
    const ok = { type: 'system', samples: [sample(1)] }
    expect(decodeProviderMessage(encodeJobMessage(ok as any))).toEqual(ok)
    for (const bad of [
      { type: 'system', samples: [] },
      { type: 'system', samples: Array.from({ length: MAX_SYSTEM_SAMPLES_PER_MESSAGE + 1 }, (_, i) => sample(i * 1000)) },
      { type: 'system', samples: [{ ...sample(1), cpuPercent: 101 }] },
      { type: 'system', samples: [{ ...sample(1), memoryBytes: -1 }] },
      { type: 'system', samples: [{ ...sample(1), extra: 'x' }] },
      { type: 'system', samples: [{ ...sample(1), gpus: Array.from({ length: 17 }, (_, index) => ({ index, utilPercent: 1, memoryBytes: 1 })) }] },
      { type: 'system', samples: [{ ...sample(1), gpus: [{ index: 64, utilPercent: 1, memoryBytes: 1 }] }] }
    ]) {
      expect(() => decodeProviderMessage(dagCbor.encode(bad)), JSON.stringify(bad).slice(0, 80)).toThrow(/does not fit/)
    }
  })

  it('summarise as `floe status` shows them', () => {
    expect(summarizeSystem([])).toBeNull()
    expect(summarizeSystem([
      { at: 1, cpuPercent: 100, memoryBytes: 10, diskBytes: 5 },
      { at: 2, cpuPercent: 50, memoryBytes: 30, gpus: [{ index: 0, utilPercent: 80, memoryBytes: 7 }] }
    ])).toEqual({ samples: 2, cpuAvgPercent: 75, cpuMaxPercent: 100, memoryPeakBytes: 30, diskPeakBytes: 5, gpuMaxPercent: 80, gpuMemoryPeakBytes: 7 })
  })
})
