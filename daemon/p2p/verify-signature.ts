import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { signedBy } from '../../protocol/signed-by.js'
import { signingBytes } from '../../protocol/signing.js'

/** Public keys kept, by peer id (a project's authors, a market's providers: few, seen often). */
const MAX_KEYS = 4096
const keys = new Map<string, KeyObject | null>()

function ed25519Key (peerId: string): KeyObject | null {
  let key = keys.get(peerId)
  if (key !== undefined) return key
  key = null
  try {
    const publicKey = peerIdFromString(peerId).publicKey
    if (publicKey?.type === 'Ed25519') {
      key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.raw).toString('base64url') } })
    }
  } catch {
    key = null
  }
  if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string)
  keys.set(peerId, key)
  return key
}

/**
 * `signedBy`, for checking many signatures at once: an Ed25519 peer's key is parsed once and
 * kept, and the check runs in Node's thread pool (crypto.verify with a callback), so a batch
 * checked together uses the machine's other cores. Other key types go through `signedBy`.
 */
export async function verifySignature (peerId: string, domain: string, payload: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = ed25519Key(peerId)
  if (key == null) return await signedBy(peerId, domain, payload, signature)
  return await new Promise<boolean>(resolve => {
    verify(null, signingBytes(domain, payload), key, signature, (err, ok) => { resolve(err == null && ok) })
  })
}
