import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { signingBytes } from '../signing.js'
import { MAX_CLOCK_SKEW_MS, MAX_OFFER_BYTES, MAX_OFFER_LIFETIME_MS, Offer } from './offer.js'
import { OFFER_SIGNING_DOMAIN } from '../ids.js'

/**
 * The signed form of an offer on the wire: dag-cbor `{ payload, signature }`, where `payload`
 * is the dag-cbor offer and `signature` the provider's key's signature over
 * OFFER_SIGNING_DOMAIN followed by `payload`. Signing the bytes as sent (not a re-encoding)
 * leaves no room for two encodings of one offer.
 */
export { OFFER_SIGNING_DOMAIN }

export type OfferRejection =
  | 'oversized' | 'malformed' | 'invalid' | 'bad-signature' | 'wrong-author'
  | 'expired' | 'from-the-future' | 'replayed'
  /** the book is full and the peer or address that relayed it holds its share already */
  | 'crowded'

/** An offer that may not enter a book, and why; `reason` is what the counters count. */
export class OfferRejectedError extends Error {
  override name = 'OfferRejectedError'
  readonly reason: OfferRejection
  constructor (reason: OfferRejection, message: string) {
    super(message)
    this.reason = reason
  }
}

const Record = z.object({
  payload: z.instanceof(Uint8Array),
  signature: z.instanceof(Uint8Array).refine(s => s.byteLength <= 512, { message: 'signature too long' })
}).strict()

export interface DecodedOfferRecord {
  offer: Offer
  payload: Uint8Array
  signature: Uint8Array
}

export function encodeOfferPayload (offer: Offer): Uint8Array {
  return dagCbor.encode(Offer.parse(offer))
}

export function offerSigningBytes (payload: Uint8Array): Uint8Array {
  return signingBytes(OFFER_SIGNING_DOMAIN, payload)
}

export function encodeOfferRecord (payload: Uint8Array, signature: Uint8Array): Uint8Array {
  const bytes = dagCbor.encode({ payload, signature })
  if (bytes.byteLength > MAX_OFFER_BYTES) throw new OfferRejectedError('oversized', `the offer is ${bytes.byteLength} bytes; at most ${MAX_OFFER_BYTES} are allowed`)
  return bytes
}

/** Size, encoding and schema (sane values); the signature is checked by the caller, who has the keys. */
export function decodeOfferRecord (bytes: Uint8Array): DecodedOfferRecord {
  if (bytes.byteLength > MAX_OFFER_BYTES) throw new OfferRejectedError('oversized', `offer of ${bytes.byteLength} bytes; at most ${MAX_OFFER_BYTES} are allowed`)
  let record: z.infer<typeof Record>
  let value: unknown
  try {
    record = Record.parse(dagCbor.decode(bytes))
    value = dagCbor.decode(record.payload)
  } catch (err: any) {
    throw new OfferRejectedError('malformed', `not a signed offer: ${err?.message ?? err}`)
  }
  const offer = Offer.safeParse(value)
  if (!offer.success) throw new OfferRejectedError('invalid', `offer with bad values: ${z.prettifyError(offer.error)}`)
  return { offer: offer.data, payload: record.payload, signature: record.signature }
}

/** An offer is live from when it is made until it expires, within what clocks can disagree on. */
export function checkOfferTimes (offer: Offer, now: number): void {
  if (offer.expiresAt <= now) throw new OfferRejectedError('expired', `offer from ${offer.peerId} expired ${Math.round((now - offer.expiresAt) / 1000)} s ago`)
  if (offer.expiresAt > now + MAX_OFFER_LIFETIME_MS + MAX_CLOCK_SKEW_MS || offer.seq > now + MAX_CLOCK_SKEW_MS) {
    throw new OfferRejectedError('from-the-future', `offer from ${offer.peerId} is dated too far ahead of this clock`)
  }
}
