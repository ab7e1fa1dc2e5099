import type { ClassicLevel } from 'classic-level'
import type { LogLine } from '../../protocol/jobs/job.js'
import type { MetricPoint } from '../../protocol/jobs/metrics.js'
import type { JobView } from '../../protocol/jobs/view.js'

/** What the client keeps of a job: its view, plus the signed receipt as received. */
export interface JobRecord extends JobView {
  /** the signed receipt (base64), kept to prove what the provider stated */
  signedReceipt: { payload: string, signature: string } | null
  /** a refused receipt (base64) as received: the evidence of the dispute */
  disputedReceipt?: { payload: string, signature: string } | null
  /** the lease of the current attempt */
  leaseId: string | null
  /** log lines held from earlier attempts: the current provider's line N is the job's line logBase + N */
  logBase: number
  /** why this client asked the job to stop when it did so for billing (its budget, a refused statement): the job's reason then */
  billingStop?: string | null
}

type Index = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'batch' | 'values' | 'iterator'>

const JOB = 'job!'
const LOG = 'job-log!'
const METRIC = 'job-metric!'

const pad = (n: number): string => String(n).padStart(12, '0')

/**
 * The jobs this node submitted, in the index: `job!<jobId>` → record (numbers and refs come
 * from the project log's job.created entry), `job-log!<jobId>!<seq>` → log line,
 * `job-metric!<jobId>!<metric>!<seq>` → a point of a training metric (seq: its log line).
 */
export function jobRecords (index: Index) {
  return {
    async get (jobId: string): Promise<JobRecord | undefined> {
      const value = await index.get(JOB + jobId)
      return value == null ? undefined : JSON.parse(value) as JobRecord
    },
    /** `sync: false` for updates a crash may lose (the log position: the provider replays lines) */
    async put (record: JobRecord, options: { sync?: boolean } = {}): Promise<void> {
      await index.put(JOB + record.jobId, JSON.stringify(record), { sync: options.sync ?? true })
    },
    async * all (): AsyncGenerator<JobRecord> {
      for await (const value of index.values({ gte: JOB, lt: JOB + '\xff' })) yield JSON.parse(value) as JobRecord
    },
    /** log lines, and the metric points some of them carry, in one write */
    async appendLog (jobId: string, lines: LogLine[], points: Array<{ metric: string, seq: number, point: MetricPoint }> = []): Promise<void> {
      if (lines.length === 0) return
      await index.batch([
        ...lines.map(line => ({ type: 'put' as const, key: `${LOG}${jobId}!${pad(line.seq)}`, value: JSON.stringify(line) })),
        ...points.map(p => ({ type: 'put' as const, key: `${METRIC}${jobId}!${p.metric}!${pad(p.seq)}`, value: JSON.stringify(p.point) }))
      ])
    },
    /** every metric's series, points in the order printed */
    async metrics (jobId: string): Promise<Record<string, MetricPoint[]>> {
      const series: Record<string, MetricPoint[]> = {}
      for await (const [key, value] of index.iterator({ gt: `${METRIC}${jobId}!`, lt: `${METRIC}${jobId}!\xff` })) {
        const rest = key.slice(`${METRIC}${jobId}!`.length)
        const metric = rest.slice(0, rest.lastIndexOf('!'))
        ;(series[metric] ??= []).push(JSON.parse(value) as MetricPoint)
      }
      return series
    },
    async * logs (jobId: string, after: number): AsyncGenerator<LogLine> {
      for await (const value of index.values({ gt: `${LOG}${jobId}!${pad(after)}`, lt: `${LOG}${jobId}!\xff` })) yield JSON.parse(value) as LogLine
    }
  }
}

export type JobRecords = ReturnType<typeof jobRecords>

/** A record as the API shows it: without the receipts as received, the lease and the log base. */
export function recordView (record: JobRecord): JobView {
  const { signedReceipt: _s, disputedReceipt: _d, leaseId: _l, logBase: _b, billingStop: _c, ...rest } = record
  // records written before metrics were kept have none
  return { ...rest, metrics: rest.metrics ?? {} }
}
