import type { CID } from 'multiformats/cid'
import type { EnvironmentFetch } from '../environments/environment-cache.js'
import type { Receipt } from '../../protocol/jobs/receipt.js'
import type { ContainerOutcome } from './executor.js'
import type { LiveJob, PhaseTimes } from './live-job.js'

/**
 * What the receipt says of a job, from how it went. Pure: the client checks every field
 * against the deal (daemon/jobs/receipt-check.ts), so each is derived here in one place —
 * running time from the container's own start and exit, cost as price × running time.
 */
export function jobReceipt (job: Pick<LiveJob, 'record' | 'request'>, ended: {
  provider: string
  state: Receipt['state']
  reason: string | null
  outcome?: ContainerOutcome
  times: PhaseTimes
  environment?: EnvironmentFetch
  output: { cid: CID, bytes: number } | null
  logs: CID | null
}): Receipt {
  const { record } = job
  const { outcome, times } = ended
  const runMs = times.runningAt != null && times.exitedAt != null ? Math.max(0, times.exitedAt - times.runningAt) : 0
  return {
    version: 1,
    jobId: record.jobId,
    leaseId: record.leaseId,
    specCid: job.request.specCid,
    provider: ended.provider,
    client: record.client,
    state: ended.state,
    exitCode: outcome?.exitCode ?? null,
    reason: ended.reason,
    times: { acceptedAt: record.acceptedAt, ...times, uploadedAt: Date.now() },
    preparingMs: times.preparingAt != null && times.runningAt != null ? Math.max(0, times.runningAt - times.preparingAt) : 0,
    runMs,
    ...(ended.environment != null ? { environment: ended.environment } : {}),
    usage: {
      cpuSeconds: outcome?.usage.cpuSeconds ?? 0,
      peakMemoryBytes: outcome?.usage.peakMemoryBytes ?? 0,
      gpuSeconds: record.gpus.length * runMs / 1000
    },
    pricePerHour: record.pricePerHour,
    cost: Math.round(record.pricePerHour * runMs / 3_600_000 * 1e6) / 1e6,
    outputCid: ended.output?.cid ?? null,
    outputBytes: ended.output?.bytes ?? 0,
    logsCid: ended.logs
  }
}

/** The job's end state, from how its container ended. */
export function endState (outcome: ContainerOutcome): Receipt['state'] {
  switch (outcome.ending) {
    case 'timeout': return 'timeout'
    case 'stopped': return 'stopped'
    default: return outcome.exitCode === 0 ? 'success' : 'failed'
  }
}

/** Why it ended so, in words for the client (null: it succeeded). */
export function endReason (outcome: ContainerOutcome): string | null {
  switch (outcome.ending) {
    case 'timeout': return 'killed: past its time limit'
    case 'stopped': return 'stopped by the client'
    default:
      if (outcome.oomKilled) return `killed: out of memory (exit code ${outcome.exitCode ?? 'none'})`
      return outcome.exitCode === 0 ? null : `exit code ${outcome.exitCode ?? 'none'}`
  }
}
