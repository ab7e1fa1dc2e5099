import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { HomeFileError } from './errors.js'
import { loadOrCreateSecret } from './secret-file.js'

/**
 * The node's persistent Ed25519 key (libp2p protobuf encoding). Its peer id is the node's
 * identity on the network, so it survives restarts.
 */
export async function loadOrCreateIdentity (path: string): Promise<PrivateKey> {
  const bytes = await loadOrCreateSecret(path, async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  try {
    const key = privateKeyFromProtobuf(bytes)
    if (key.type !== 'Ed25519') throw new Error(`expected an Ed25519 key, found ${key.type}`)
    return key
  } catch (err: any) {
    throw new HomeFileError(`the identity key ${path} is unreadable (${err?.message ?? err}); restore it from a backup, or move it away to start with a new peer id`)
  }
}
