import { decodeReceipt, RECEIPT_CLOCK_SKEW_MS, RECEIPT_COST_TOLERANCE, RECEIPT_KILL_GRACE_MS, RECEIPT_SIGNING_DOMAIN, type Receipt, type SignedReceipt } from '../../protocol/jobs/receipt.js'
import { signedBy } from '../../protocol/signed-by.js'

/** What a receipt is checked against: the deal as this client made it. */
export interface ReceiptDeal {
  /** this node (the client) */
  client: string
  /** the provider the job went to (the peer the stream came from) */
  provider: string
  jobId: string
  leaseId: string
  specCid: string
  /** the price the provider accepted the job with (its `accepted` message) */
  acceptedPricePerHour: number
  /** the most this client said it would pay (--max-price, else the offer's price it sent) */
  maxPricePerHour: number
  /** the job's time limit */
  timeoutSeconds: number
  /** when this client heard the acceptance (ms, its own clock) */
  acceptedAt: number
  now: number
}

/** Why a receipt does not count, in the order they are checked. */
export type ReceiptRefusal = 'invalid' | 'provider' | 'signature' | 'job' | 'times' | 'running-time' | 'price' | 'cost' | 'state'

export type ReceiptCheck =
  | { ok: true, receipt: Receipt }
  /** `receipt`: the claim as decoded, when it decoded (kept as the dispute's evidence) */
  | { ok: false, refusal: ReceiptRefusal, message: string, receipt: Receipt | null }

/**
 * Whether a provider's signed receipt matches the deal, so that its cost may count. Checked in
 * this order, so the dispute names the most basic fault first: the receipt decodes (invalid),
 * names the provider the job went to (provider) and is signed by it (signature), is about
 * this job, its lease and spec and this client (job); its times are ordered, within clock
 * skew of the acceptance and of now (times); the metered running time is
 * runningAt→exitedAt and within the job's time limit plus the kill grace (running-time); the
 * price is the accepted one and within the client's maximum (price); the cost is price ×
 * running time up to the provider's rounding (cost); and the state, exit code and output
 * agree (state).
 */
export async function checkReceipt (signed: SignedReceipt, deal: ReceiptDeal): Promise<ReceiptCheck> {
  let receipt: Receipt
  try {
    receipt = decodeReceipt(signed.payload)
  } catch (err: any) {
    return { ok: false, refusal: 'invalid', message: `it does not decode: ${err?.message ?? err}`, receipt: null }
  }
  const refuse = (refusal: ReceiptRefusal, message: string): ReceiptCheck => ({ ok: false, refusal, message, receipt })

  if (receipt.provider !== deal.provider) return refuse('provider', `it names provider ${receipt.provider}, but the job went to ${deal.provider}`)
  if (!await signedBy(deal.provider, RECEIPT_SIGNING_DOMAIN, signed.payload, signed.signature)) return refuse('signature', `it is not signed by provider ${deal.provider}`)
  const other: string[] = []
  if (receipt.jobId !== deal.jobId) other.push(`job ${receipt.jobId}, not ${deal.jobId}`)
  if (receipt.leaseId !== deal.leaseId) other.push(`lease ${receipt.leaseId}, not ${deal.leaseId}`)
  if (receipt.specCid.toString() !== deal.specCid) other.push(`spec ${receipt.specCid.toString()}, not ${deal.specCid}`)
  if (receipt.client !== deal.client) other.push(`client ${receipt.client}, not ${deal.client}`)
  if (other.length > 0) return refuse('job', `it is for another job: ${other.join(', ')}`)

  const t = receipt.times
  // a container that never started is stamped 0 by the engine: not run, as null is
  const runningAt = t.runningAt === 0 ? null : t.runningAt
  const exitedAt = t.exitedAt === 0 ? null : t.exitedAt
  const preparingAt = t.preparingAt === 0 ? null : t.preparingAt
  if ((runningAt == null) !== (exitedAt == null)) return refuse('times', `it has ${runningAt == null ? 'an exit but no start' : 'a start but no exit'} of the container`)
  const chain: Array<[string, number | null]> = [['acceptedAt', t.acceptedAt], ['preparingAt', preparingAt], ['runningAt', runningAt], ['exitedAt', exitedAt], ['uploadedAt', t.uploadedAt]]
  let previous: [string, number] | null = null
  for (const [name, at] of chain) {
    if (at == null) continue
    if (previous != null && at < previous[1]) return refuse('times', `its times are out of order: ${name} ${at} is before ${previous[0]} ${previous[1]}`)
    previous = [name, at]
  }
  if (Math.abs(t.acceptedAt - deal.acceptedAt) > RECEIPT_CLOCK_SKEW_MS) return refuse('times', `it says the job was accepted at ${t.acceptedAt}, ${Math.round((t.acceptedAt - deal.acceptedAt) / 1000)} s from when this client heard it (${deal.acceptedAt}); at most ${RECEIPT_CLOCK_SKEW_MS / 1000} s of clock skew is allowed`)
  if (t.uploadedAt > deal.now + RECEIPT_CLOCK_SKEW_MS) return refuse('times', `it is dated in the future (uploadedAt ${t.uploadedAt}, now ${deal.now}; at most ${RECEIPT_CLOCK_SKEW_MS / 1000} s of clock skew is allowed)`)

  const meteredMs = runningAt != null && exitedAt != null ? exitedAt - runningAt : 0
  if (receipt.runMs !== meteredMs) return refuse('running-time', `it states ${receipt.runMs} ms of running time, but runningAt→exitedAt is ${meteredMs} ms`)
  const limitMs = deal.timeoutSeconds * 1000 + RECEIPT_KILL_GRACE_MS
  if (meteredMs > limitMs) return refuse('running-time', `it meters ${meteredMs} ms of running time, above the job's ${deal.timeoutSeconds} s limit and the ${RECEIPT_KILL_GRACE_MS / 1000} s kill grace`)

  if (receipt.pricePerHour !== deal.acceptedPricePerHour) return refuse('price', `its price ${receipt.pricePerHour}/h is not the ${deal.acceptedPricePerHour}/h the provider accepted the job at`)
  if (receipt.pricePerHour > deal.maxPricePerHour) return refuse('price', `its price ${receipt.pricePerHour}/h is above the ${deal.maxPricePerHour}/h this client accepts`)

  const expected = receipt.pricePerHour * meteredMs / 3_600_000
  if (Math.abs(receipt.cost - expected) > RECEIPT_COST_TOLERANCE) {
    return refuse('cost', `cost ${receipt.cost} is not price × time (${receipt.pricePerHour}/h × ${meteredMs} ms = ${round6(expected)})`)
  }

  const ran = runningAt != null
  if (receipt.state === 'success' && (receipt.exitCode !== 0 || !ran || receipt.outputCid == null)) {
    return refuse('state', `it says success with ${!ran ? 'no container run' : receipt.exitCode !== 0 ? `exit code ${receipt.exitCode ?? 'none'}` : 'no output'}`)
  }
  if (receipt.exitCode != null && !ran) return refuse('state', `it gives exit code ${receipt.exitCode} for a container that never ran`)
  if (receipt.state === 'timeout' && !ran) return refuse('state', 'it says the job ran past its time limit, but it never ran')
  return { ok: true, receipt }
}

function round6 (n: number): number {
  return Math.round(n * 1e6) / 1e6
}
