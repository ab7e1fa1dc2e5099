import type { SystemSample, SystemSummary } from '../../protocol/jobs/system-metrics.js'
import { formatSize } from '../../protocol/market/requirements.js'
import type { ApiClient } from '../api-client.js'

/** A job's system samples and their summary, as `floe status JOB` shows them (none: an empty series). */
export async function jobSystem (client: ApiClient, ref: string): Promise<{ series: SystemSample[], summary: SystemSummary | null }> {
  const { series, summary } = await client.call('jobSystemMetrics', { ref })
  return { series, summary }
}

/** `system       CPU avg 87% max 100%, memory peak 3.1 MiB, disk 40 KiB, GPU max 93% (12 GiB); 4 samples` */
export function systemLine (summary: SystemSummary | null): string {
  if (summary == null) return 'system       - (no samples: the job ran under a second, its provider sends none, or it is another member\'s job)'
  const parts = [
    `CPU avg ${summary.cpuAvgPercent}% max ${summary.cpuMaxPercent}%`,
    `memory peak ${formatSize(summary.memoryPeakBytes)}`,
    ...(summary.diskPeakBytes != null ? [`disk ${formatSize(summary.diskPeakBytes)}`] : []),
    ...(summary.gpuMaxPercent != null ? [`GPU max ${summary.gpuMaxPercent}% (${formatSize(summary.gpuMemoryPeakBytes ?? 0)})`] : [])
  ]
  return `system       ${parts.join(', ')}; ${summary.samples} samples`
}
