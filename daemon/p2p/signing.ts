import type { PrivateKey } from '@libp2p/interface'
import { signingBytes } from '../../protocol/signing.js'

export async function signRecord (privateKey: PrivateKey, domain: string, payload: Uint8Array): Promise<Uint8Array> {
  return await privateKey.sign(signingBytes(domain, payload))
}
