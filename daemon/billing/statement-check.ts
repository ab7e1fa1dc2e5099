import { costFor } from '../../protocol/billing/credits.js'
import { decodeStatement, METERING_CLOCK_SLACK_MS, METERING_COST_TOLERANCE_MICRO, USAGE_SIGNING_DOMAIN, type SignedDoc, type UsageStatement } from '../../protocol/billing/metering.js'
import { signedBy } from '../../protocol/signed-by.js'

/** What a usage statement is checked against: the deal as this client made it, and the last statement it took. */
export interface StatementDeal {
  /** this node (the client) */
  client: string
  /** the provider the job went to */
  provider: string
  jobId: string
  leaseId: string
  /** the price the provider accepted the job at */
  acceptedPricePerHour: number
  /** when this client heard the acceptance (ms, its own clock): running time cannot have begun before */
  acceptedAt: number
  now: number
  /** the last statement this client took for the job, and when it heard it (its own clock) */
  previous: { seq: number, runningMs: number, heardAt: number | null } | null
}

/** Why a statement is refused, in the order checked. */
export type StatementRefusal = 'invalid' | 'signature' | 'job' | 'replay' | 'price' | 'time' | 'cost'

export type StatementCheck =
  /** repeated: the statement taken last, heard again (already answered: nothing to promise) */
  | { ok: true, statement: UsageStatement, repeated: boolean }
  | { ok: false, refusal: StatementRefusal, message: string, statement: UsageStatement | null }

/**
 * Whether a provider's usage statement matches the deal, so that it may be answered with a
 * voucher. In this order: it decodes (invalid); it is signed by the job's provider and names
 * it (signature); it is about this job, lease and client (job: a statement for a job this
 * client did not give that provider); its seq is past the last one taken (replay), unless it
 * is that one again, whole (repeated: no new promise); its price
 * is the accepted one (price); its running time never decreases and runs no faster than this
 * client's own clock since the acceptance (give or take METERING_CLOCK_SLACK_MS) and since the
 * last statement (give or take that and one interval, as a statement may be heard late) (time); its cost is price × running time to the micro-credit (cost).
 */
export async function checkStatement (signed: SignedDoc, deal: StatementDeal): Promise<StatementCheck> {
  let statement: UsageStatement
  try {
    statement = decodeStatement(signed.payload)
  } catch (err: any) {
    return { ok: false, refusal: 'invalid', message: `it does not decode: ${err?.message ?? err}`, statement: null }
  }
  const refuse = (refusal: StatementRefusal, message: string): StatementCheck => ({ ok: false, refusal, message, statement })
  if (statement.provider !== deal.provider) return refuse('signature', `it names provider ${statement.provider}, but the job went to ${deal.provider}`)
  if (!await signedBy(deal.provider, USAGE_SIGNING_DOMAIN, signed.payload, signed.signature)) return refuse('signature', `it is not signed by provider ${deal.provider}`)
  const other: string[] = []
  if (statement.jobId !== deal.jobId) other.push(`job ${statement.jobId}, not ${deal.jobId}`)
  if (statement.leaseId !== deal.leaseId) other.push(`lease ${statement.leaseId}, not ${deal.leaseId}`)
  if (statement.client !== deal.client) other.push(`client ${statement.client}, not ${deal.client}`)
  if (other.length > 0) return refuse('job', `it is for a job this client did not give the provider: ${other.join(', ')}`)
  const previous = deal.previous
  // A provider sends its newest statement when a client follows the job again (a stream cut
  // under load, a restart): the one taken last, heard again, was answered already.
  if (previous != null && statement.seq === previous.seq && statement.runningMs === previous.runningMs) return { ok: true, statement, repeated: true }
  if (previous != null && statement.seq <= previous.seq) return refuse('replay', `its seq ${statement.seq} is not past the last statement taken (${previous.seq})`)
  if (statement.pricePerHour !== deal.acceptedPricePerHour) return refuse('price', `its price ${statement.pricePerHour}/h is not the ${deal.acceptedPricePerHour}/h the provider accepted the job at`)
  const sinceAccepted = deal.now - deal.acceptedAt
  if (statement.runningMs > sinceAccepted + METERING_CLOCK_SLACK_MS) {
    return refuse('time', `it states ${statement.runningMs} ms of running time, but only ${sinceAccepted} ms have passed since the job was accepted`)
  }
  if (previous != null) {
    if (statement.runningMs < previous.runningMs) return refuse('time', `its running time ${statement.runningMs} ms is less than the last statement's ${previous.runningMs} ms`)
    if (previous.heardAt != null) {
      const passed = deal.now - previous.heardAt
      const grew = statement.runningMs - previous.runningMs
      // the last statement may have been heard late (a busy client, a slow link): up to one interval of it is forgiven
      if (grew > passed + statement.intervalMs + METERING_CLOCK_SLACK_MS) return refuse('time', `its running time grew by ${grew} ms since the last statement, but only ${passed} ms have passed`)
    }
  }
  const expected = costFor(statement.pricePerHour, statement.runningMs)
  if (Math.abs(statement.cost - expected) > METERING_COST_TOLERANCE_MICRO) {
    return refuse('cost', `its cost ${statement.cost} µcr is not price × time (${statement.pricePerHour}/h × ${statement.runningMs} ms = ${expected} µcr)`)
  }
  return { ok: true, statement, repeated: false }
}
