import { decodeVoucher, VOUCHER_SIGNING_DOMAIN, type SignedDoc, type Voucher } from '../../protocol/billing/metering.js'
import { signedBy } from '../../protocol/signed-by.js'

/** What a voucher is checked against: the job as this provider holds it, and the last voucher it took. */
export interface VoucherDeal {
  /** this node (the provider) */
  provider: string
  /** the job's client (the peer that submitted it) */
  client: string
  jobId: string
  leaseId: string
  /** the highest voucher taken for the job so far */
  last: { seq: number, amount: number } | null
}

/** Why a voucher is refused, in the order checked. */
export type VoucherRefusal = 'invalid' | 'signature' | 'job' | 'replay' | 'decreasing'

export type VoucherCheck =
  | { ok: true, voucher: Voucher }
  | { ok: false, refusal: VoucherRefusal, message: string, voucher: Voucher | null }

/**
 * Whether a client's voucher may count: it decodes (invalid); it names the job's client and
 * is signed by it (signature: a voucher signed by another key proves nothing); it is for this
 * job, lease and provider (job); its seq is past the last taken (replay: an old voucher sent
 * again); its amount is no less than the last (decreasing: vouchers are cumulative). A
 * refused voucher changes nothing in the ledger.
 */
export async function checkVoucher (signed: SignedDoc, deal: VoucherDeal): Promise<VoucherCheck> {
  let voucher: Voucher
  try {
    voucher = decodeVoucher(signed.payload)
  } catch (err: any) {
    return { ok: false, refusal: 'invalid', message: `it does not decode: ${err?.message ?? err}`, voucher: null }
  }
  const refuse = (refusal: VoucherRefusal, message: string): VoucherCheck => ({ ok: false, refusal, message, voucher })
  if (voucher.client !== deal.client) return refuse('signature', `it names client ${voucher.client}, but the job is ${deal.client}'s`)
  if (!await signedBy(deal.client, VOUCHER_SIGNING_DOMAIN, signed.payload, signed.signature)) return refuse('signature', `it is not signed by client ${deal.client}`)
  const other: string[] = []
  if (voucher.jobId !== deal.jobId) other.push(`job ${voucher.jobId}, not ${deal.jobId}`)
  if (voucher.leaseId !== deal.leaseId) other.push(`lease ${voucher.leaseId}, not ${deal.leaseId}`)
  if (voucher.provider !== deal.provider) other.push(`provider ${voucher.provider}, not ${deal.provider}`)
  if (other.length > 0) return refuse('job', `it is for a job this provider does not hold for the client: ${other.join(', ')}`)
  if (deal.last != null && voucher.seq <= deal.last.seq) return refuse('replay', `its seq ${voucher.seq} is not past the last voucher taken (${deal.last.seq})`)
  if (deal.last != null && voucher.amount < deal.last.amount) return refuse('decreasing', `it promises ${voucher.amount} µcr in all, less than the ${deal.last.amount} µcr already promised`)
  return { ok: true, voucher }
}
