import { z } from 'zod'

/** A job's life: each state is entered once, with a timestamp, in this order (a retry goes back to matching). */
export const JobState = z.enum(['queued', 'matching', 'preparing', 'running', 'uploading', 'success', 'failed', 'timeout', 'stopped', 'lost'])
export type JobState = z.infer<typeof JobState>

export const FINAL_STATES: ReadonlySet<JobState> = new Set(['success', 'failed', 'timeout', 'stopped', 'lost'])

export function isFinal (state: JobState): boolean {
  return FINAL_STATES.has(state)
}

/** Where a log line came from. */
export const LogStream = z.enum(['stdout', 'stderr', 'system'])
export type LogStream = z.infer<typeof LogStream>

/** One line of a job's log, numbered from 1 in the order the provider saw it. */
export const LogLine = z.object({
  seq: z.number().int().positive(),
  /** milliseconds since the epoch */
  at: z.number().int().nonnegative(),
  stream: LogStream,
  line: z.string().max(64 * 1024)
}).strict()
export type LogLine = z.infer<typeof LogLine>
