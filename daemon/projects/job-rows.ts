import type { Receipt } from '../../protocol/jobs/receipt.js'
import { receiptView } from '../../protocol/jobs/receipt.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { Entry, EntryPayload } from '../../protocol/projects/entry.js'

/**
 * A job as the project's log tells it: what every member derives alike from the same entries
 * (the rows of `floe status`). The daemon that runs a job knows more while it runs (each
 * phase, the log lines); the log has what lasts: created, started, how it ended.
 */
export type JobRow = JobView & {
  /** the signed receipt as logged (base64), so a member can reuse the output with proof */
  signedReceipt: { payload: string, signature: string } | null
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/** The row as the API shows it. */
export function rowView (row: JobRow): JobView {
  const { signedReceipt: _s, ...rest } = row
  return rest
}

const iso = (ms: number): string => new Date(ms).toISOString()

export function jobCreatedRow (entry: Entry, project: { id: string, name: string }, receipt: Receipt | null): JobRow {
  const p = entry.payload as EntryPayload<'job.created'>
  const created = iso(entry.at)
  const reused = p.reused
  return {
    jobId: p.job,
    ref: `${project.name}/${p.number}`,
    project: project.name,
    projectId: project.id,
    number: p.number,
    author: entry.author,
    message: p.message,
    createdAt: created,
    specCid: p.specCid,
    spec: p.spec,
    inputs: p.inputs,
    deterministic: p.deterministic,
    reusedFrom: reused?.from ?? null,
    maxPricePerHour: null,
    requestedProvider: null,
    retries: 0,
    state: reused != null ? 'success' : 'queued',
    states: reused != null ? [{ state: 'queued', at: created }, { state: 'success', at: created }] : [{ state: 'queued', at: created }],
    provider: null,
    pricePerHour: null,
    attempts: [],
    exitCode: reused != null ? 0 : null,
    reason: null,
    outputCid: reused?.outputCid ?? null,
    logsCid: reused?.logsCid ?? null,
    receipt: receipt == null ? null : receiptView(receipt),
    signedReceipt: reused == null ? null : { payload: b64(reused.receipt.payload), signature: b64(reused.receipt.signature) },
    logLines: 0,
    metrics: {}
  }
}

/** The row after a later entry about the job (started, finished, stopped, lost, failed). */
export function applyJobEntry (row: JobRow, entry: Entry, receipt: Receipt | null): JobRow {
  const at = iso(entry.at)
  const next: JobRow = { ...row, states: [...row.states], attempts: [...row.attempts] }
  const enter = (state: JobRow['state']): void => {
    next.state = state
    next.states.push({ state, at })
  }
  switch (entry.type) {
    case 'job.started': {
      const p = entry.payload as EntryPayload<'job.started'>
      next.provider = p.provider
      next.pricePerHour = p.pricePerHour
      next.attempts.push({ provider: p.provider, outcome: 'accepted', reason: null, at })
      enter('running')
      break
    }
    case 'job.finished': {
      const p = entry.payload as EntryPayload<'job.finished'>
      const r = receipt as Receipt
      next.receipt = receiptView(r)
      next.signedReceipt = { payload: b64(p.receipt.payload), signature: b64(p.receipt.signature) }
      next.exitCode = r.exitCode
      next.reason = r.reason
      next.outputCid = r.outputCid?.toString() ?? null
      next.logsCid = r.logsCid?.toString() ?? null
      next.provider = r.provider
      next.pricePerHour = r.pricePerHour
      next.metrics = p.metrics
      next.logLines = p.logLines
      enter(r.state)
      break
    }
    case 'job.stopped': {
      next.reason = (entry.payload as EntryPayload<'job.stopped'>).reason
      enter('stopped')
      break
    }
    case 'job.lost': {
      const p = entry.payload as EntryPayload<'job.lost'>
      next.attempts.push({ provider: p.provider, outcome: 'lost', reason: p.reason, at })
      if (p.final) {
        next.reason = p.reason
        enter('lost')
      } else {
        next.provider = null
        enter('matching')
      }
      break
    }
    case 'job.failed': {
      next.reason = (entry.payload as EntryPayload<'job.failed'>).reason
      enter('failed')
      break
    }
    case 'job.deleted':
      next.deletedAt = at
      break
    default:
      break
  }
  return next
}
