import { z } from 'zod'

/**
 * Training metrics, FloydHub's convention: a job prints a stdout line such as
 * `{"metric": "loss", "value": 0.31, "step": 10}` (`step` or `epoch` optional) and the
 * value joins that metric's series. Any other line is just a log line.
 */
export const MetricPoint = z.object({
  value: z.number(),
  step: z.number().int().nonnegative().optional(),
  epoch: z.number().int().nonnegative().optional(),
  /** milliseconds since the epoch: when the line was printed */
  at: z.number().int().nonnegative()
}).strict()
export type MetricPoint = z.infer<typeof MetricPoint>

const MetricLine = z.object({
  metric: z.string().min(1).max(128),
  value: z.number().refine(Number.isFinite, { message: 'not a finite number' }),
  step: z.number().int().nonnegative().optional(),
  epoch: z.number().int().nonnegative().optional()
}).strict()

/** The metric a stdout line reports, or null when it is not a metric line. */
export function parseMetricLine (line: string, at: number): { metric: string, point: MetricPoint } | null {
  const found = readMetricLine(line, at)
  return found === 'malformed' ? null : found
}

/**
 * Like parseMetricLine, but tells a line meant as a metric (a JSON-looking line naming
 * `"metric"`) that could not be read — bad JSON, a missing or non-finite value, an unknown
 * field, over 4096 characters — as 'malformed': such lines are dropped from the charts, and
 * the job view counts them (`metricsDropped`) so the page can say so.
 */
export function readMetricLine (line: string, at: number): { metric: string, point: MetricPoint } | 'malformed' | null {
  const text = line.trim()
  if (!text.startsWith('{') || !text.includes('"metric"')) return null
  if (text.length > 4096) return 'malformed'
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'malformed'
  }
  const parsed = MetricLine.safeParse(value)
  if (!parsed.success) return 'malformed'
  const { metric, ...rest } = parsed.data
  return { metric, point: { ...rest, at } }
}
