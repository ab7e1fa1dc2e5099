import { equals } from 'multiformats/bytes'
import type { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { UnsupportedHashError } from '../../protocol/transfer/dag.js'

const HASHERS: ReadonlyMap<number, MultihashHasher> = new Map<number, MultihashHasher>([
  [sha256.code, sha256],
  [sha512.code, sha512],
  [identity.code, identity]
])

/** The hash functions floe can check blocks with, by multihash code. */
export function hasherFor (code: number): MultihashHasher | undefined {
  return HASHERS.get(code)
}

/**
 * Whether `bytes` hash to `cid`'s multihash (code, length and digest). Throws
 * UnsupportedHashError for a hash function it cannot check, rather than trusting the bytes.
 */
export async function verifyBlock (cid: CID, bytes: Uint8Array): Promise<boolean> {
  const hasher = hasherFor(cid.multihash.code)
  if (hasher == null) {
    throw new UnsupportedHashError(`block ${cid} uses hash function 0x${cid.multihash.code.toString(16)}; only sha2-256, sha2-512 and identity can be verified`)
  }
  const digest = await hasher.digest(bytes)
  return equals(digest.bytes, cid.multihash.bytes)
}
