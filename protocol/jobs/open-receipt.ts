import { signedBy } from '../signed-by.js'
import { decodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt, type SignedReceipt } from './receipt.js'

/** A receipt that does not check out: not signed by its provider, or not about the job it came with. */
export class InvalidReceiptError extends Error {
  override name = 'InvalidReceiptError'
}

/**
 * Verifies a signed receipt: the provider it names signed it, and it is about this job (its
 * id, spec and client, and the provider expected when one is).
 */
export async function openReceipt (signed: SignedReceipt, expect: { jobId: string, specCid: string, client: string, provider?: string }): Promise<Receipt> {
  const receipt = decodeReceipt(signed.payload)
  if (expect.provider != null && receipt.provider !== expect.provider) throw new InvalidReceiptError(`the receipt names provider ${receipt.provider}, not ${expect.provider}`)
  if (!await signedBy(receipt.provider, RECEIPT_SIGNING_DOMAIN, signed.payload, signed.signature)) throw new InvalidReceiptError(`the receipt is not signed by provider ${receipt.provider}`)
  if (receipt.jobId !== expect.jobId || receipt.specCid.toString() !== expect.specCid || receipt.client !== expect.client) {
    throw new InvalidReceiptError('the receipt is for another job')
  }
  return receipt
}
