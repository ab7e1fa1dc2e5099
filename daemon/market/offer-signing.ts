import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Offer } from '../../protocol/market/offer.js'
import { checkOfferTimes, decodeOfferRecord, encodeOfferPayload, encodeOfferRecord, offerSigningBytes, OfferRejectedError } from '../../protocol/market/offer-record.js'

export async function signOffer (privateKey: PrivateKey, offer: Offer): Promise<Uint8Array> {
  const payload = encodeOfferPayload(offer)
  return encodeOfferRecord(payload, await privateKey.sign(offerSigningBytes(payload)))
}

/**
 * Checks a signed offer as it arrives: size, encoding, sane values, a signature by the
 * offer's own peer id, the author the pubsub message names (when given), and times.
 */
export async function verifyOffer (bytes: Uint8Array, options: { now: number, author?: string }): Promise<Offer> {
  const { offer, payload, signature } = decodeOfferRecord(bytes)
  let valid = false
  try {
    const key = peerIdFromString(offer.peerId).publicKey
    valid = key != null && await key.verify(offerSigningBytes(payload), signature)
  } catch {
    valid = false
  }
  if (!valid) throw new OfferRejectedError('bad-signature', `offer claiming to be from ${offer.peerId} is not signed by its key`)
  if (options.author != null && options.author !== offer.peerId) {
    throw new OfferRejectedError('wrong-author', `offer from ${offer.peerId} was published by ${options.author}`)
  }
  checkOfferTimes(offer, options.now)
  return offer
}
