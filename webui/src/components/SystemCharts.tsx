import type { ReactNode } from 'react'
import { isFinal } from '../../../protocol/jobs/job.js'
import type { MetricPoint } from '../../../protocol/jobs/metrics.js'
import type { SystemSample } from '../../../protocol/jobs/system-metrics.js'
import type { JobView } from '../../../protocol/jobs/view.js'
import { formatSize } from '../../../protocol/market/requirements.js'
import { api, useLoad } from '../api.js'
import { ErrorBox } from './common.js'
import { MetricChart } from './MetricChart.js'

const MiB = 1024 * 1024
const mib = (bytes: number): number => Math.round(bytes / MiB * 100) / 100

/** The charts of a job's system samples: CPU %, memory, disk, and GPU utilisation and memory when it had GPUs. */
export function systemSeries (samples: SystemSample[]): Record<string, MetricPoint[]> {
  const series: Record<string, MetricPoint[]> = {
    'CPU %': samples.map(s => ({ at: s.at, value: s.cpuPercent })),
    'memory (MiB)': samples.map(s => ({ at: s.at, value: mib(s.memoryBytes) }))
  }
  const disk = samples.filter(s => s.diskBytes != null)
  if (disk.length > 0) series['disk (MiB)'] = disk.map(s => ({ at: s.at, value: mib(s.diskBytes ?? 0) }))
  const gpus = samples.filter(s => (s.gpus?.length ?? 0) > 0)
  if (gpus.length > 0) {
    // several GPUs: their mean utilisation and their memory together
    series['GPU %'] = gpus.map(s => ({ at: s.at, value: Math.round((s.gpus ?? []).reduce((sum, g) => sum + g.utilPercent, 0) / (s.gpus?.length ?? 1) * 10) / 10 }))
    series['GPU memory (MiB)'] = gpus.map(s => ({ at: s.at, value: mib((s.gpus ?? []).reduce((sum, g) => sum + g.memoryBytes, 0)) }))
  }
  return series
}

/** The job's CPU, memory, disk and GPU over time, as its provider sampled them (each second at most); polled while it runs. */
export function SystemCharts ({ job }: { job: JobView }): ReactNode {
  const final = isFinal(job.state)
  const loaded = useLoad(async signal => await api.call('jobSystemMetrics', { ref: job.ref }, { signal }), [job.ref, final], final ? undefined : 2000)
  const samples = loaded.data?.series ?? []
  const summary = loaded.data?.summary
  return (
    <section aria-label='system metrics'>
      <h2>System</h2>
      <ErrorBox error={loaded.error} />
      {samples.length === 0
        ? <p className='muted'>{final ? 'No system samples: the job ran under a second, its provider sends none, or it is another member\'s job.' : 'CPU, memory and disk appear here each second while the job runs.'}</p>
        : (
          <>
            {summary != null && <p className='muted'>CPU avg {summary.cpuAvgPercent}% · max {summary.cpuMaxPercent}% · memory peak {formatSize(summary.memoryPeakBytes)}{summary.diskPeakBytes != null && ` · disk ${formatSize(summary.diskPeakBytes)}`}{summary.gpuMaxPercent != null && ` · GPU max ${summary.gpuMaxPercent}%`}</p>}
            <div className='charts'>{Object.entries(systemSeries(samples)).map(([name, points]) => <MetricChart key={name} name={name} points={points} />)}</div>
          </>
          )}
    </section>
  )
}
