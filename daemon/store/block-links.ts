import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { InvalidBlockError, UnsupportedCodecError } from '../../protocol/transfer/dag.js'

const CODEC_NAMES: Readonly<Record<number, string>> = {
  [raw.code]: 'raw',
  [dagPb.code]: 'dag-pb',
  [dagCbor.code]: 'dag-cbor'
}

export function isSupportedCodec (code: number): boolean {
  return CODEC_NAMES[code] != null
}

/** Whether blocks of this CID's codec can have links at all (raw ones cannot: no need to read them). */
export function mayHaveLinks (cid: CID): boolean {
  return cid.code !== raw.code
}

/**
 * The CIDs a block links to, in link order: dag-pb `Links`, dag-cbor CIDs in the decoded
 * value's key order (canonical, so both sides agree), none for raw.
 */
export function blockLinks (cid: CID, bytes: Uint8Array): CID[] {
  const codec = CODEC_NAMES[cid.code]
  if (codec == null) {
    throw new UnsupportedCodecError(`block ${cid} uses codec 0x${cid.code.toString(16)}; only dag-pb, raw and dag-cbor DAGs can be transferred`)
  }
  try {
    switch (cid.code) {
      case dagPb.code:
        return dagPb.decode(bytes).Links.map(link => link.Hash)
      case dagCbor.code:
        return [...createUnsafe({ bytes, cid, codec: dagCbor }).links()].map(([, link]) => link)
      default:
        return []
    }
  } catch (err: any) {
    throw new InvalidBlockError(`block ${cid} is not valid ${codec}: ${err?.message ?? err}`)
  }
}
