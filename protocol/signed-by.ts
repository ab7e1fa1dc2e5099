import { peerIdFromString } from '@libp2p/peer-id'
import { signingBytes } from './signing.js'

/** Whether `signature` over `payload` was made by the key inside `peerId`; a malformed peer id is simply not a signer. */
export async function signedBy (peerId: string, domain: string, payload: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = peerIdFromString(peerId).publicKey
    return key != null && await key.verify(signingBytes(domain, payload), signature)
  } catch {
    return false
  }
}
