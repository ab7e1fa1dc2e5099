import type { PrivateKey } from '@libp2p/interface'
import type { Offer } from '../../protocol/market/offer.js'
import { checkOfferTimes, decodeOfferRecord, encodeOfferPayload, encodeOfferRecord, OFFER_SIGNING_DOMAIN, OfferRejectedError } from '../../protocol/market/offer-record.js'
import { signedBy } from '../../protocol/signed-by.js'
import { signRecord } from '../p2p/signing.js'

export async function signOffer (privateKey: PrivateKey, offer: Offer): Promise<Uint8Array> {
  const payload = encodeOfferPayload(offer)
  return encodeOfferRecord(payload, await signRecord(privateKey, OFFER_SIGNING_DOMAIN, payload))
}

/**
 * Checks a signed offer as it arrives: size, encoding, sane values, a signature by the
 * offer's own peer id, the author the pubsub message names (when given), and times.
 */
export async function verifyOffer (bytes: Uint8Array, options: { now: number, author?: string }): Promise<Offer> {
  const { offer, payload, signature } = decodeOfferRecord(bytes)
  if (!await signedBy(offer.peerId, OFFER_SIGNING_DOMAIN, payload, signature)) throw new OfferRejectedError('bad-signature', `offer claiming to be from ${offer.peerId} is not signed by its key`)
  if (options.author != null && options.author !== offer.peerId) {
    throw new OfferRejectedError('wrong-author', `offer from ${offer.peerId} was published by ${options.author}`)
  }
  checkOfferTimes(offer, options.now)
  return offer
}
