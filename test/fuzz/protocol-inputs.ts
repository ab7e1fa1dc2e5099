import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import * as raw from 'multiformats/codecs/raw'
import { concat, lengthPrefixed, varint } from './raw-peer.js'

/**
 * What the protocol fuzzers send: one conversation's chunks, written to a fresh stream. Every
 * floe protocol is length-prefixed dag-cbor (the DAG protocol's answers are typed frames, its
 * request is dag-cbor), so the same families of input reach each: garbage, lengths that lie,
 * dag-cbor of the wrong shape, deep nesting, and valid messages with one bit flipped.
 */
export interface Sent {
  /** which family, for the failure report */
  kind: string
  chunks: Uint8Array[]
  /** end our writable side after sending (otherwise the stream is left open, as a stalled peer would) */
  halfClose: boolean
}

/** Length prefixes that lie: the edges of each protocol's cap, and far past any (up to 2^62, and 2^63 − 1). */
export function lyingLengths (maxBytes: number): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(0n, 1n, BigInt(maxBytes - 1), BigInt(maxBytes), BigInt(maxBytes + 1), 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n),
    fc.bigInt({ min: 0n, max: 2n ** 62n })
  )
}

/** dag-cbor leaves as a peer might send them: every major type, big integers, CIDs, odd strings. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0'.repeat(32), 'f'.repeat(32), 'x'.repeat(2000), '../..', '\u0000', 'bafkqaaa'),
  fc.uint8Array({ maxLength: 64 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 40 }).map(bytes => CID.createV1(raw.code, identity.digest(bytes)))
)

/** Any dag-cbor value, a few levels deep. */
export const cborValue: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 4, noNullPrototype: true }))
})).value

/**
 * A map with a `type` this protocol knows and fields that may be right in name and wrong in
 * value, missing, or extra.
 */
export function wrongShape (types: readonly string[], fields: readonly string[]): fc.Arbitrary<Uint8Array> {
  return fc.record({
    type: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...types) }, { weight: 1, arbitrary: cborValue }),
    rest: fc.dictionary(fc.oneof(fc.constantFrom(...fields), fc.string({ maxLength: 8 })), cborValue, { maxKeys: 5, noNullPrototype: true })
  }).map(({ type, rest }) => dagCbor.encode({ ...rest, type }))
}

/**
 * dag-cbor nested `depth` levels (arrays of one, or maps of one), built byte by byte since
 * the encoder would overflow its own stack first; inside `{ type, [field]: … }` when a type is given.
 */
export function deeplyNested (depth: number, map: boolean, type?: string, field = 'a'): Uint8Array {
  const level = map ? Uint8Array.from([0xa1, 0x61, 0x61]) : Uint8Array.from([0x81])
  const deep = concat([...Array.from({ length: depth }, () => level), Uint8Array.from([0xf6])])
  if (type == null) return deep
  // encode the map with a marker where the nesting goes, then swap the marker's bytes for it
  const marker = dagCbor.encode('floe-fuzz-deep-marker')
  const shell = dagCbor.encode({ type, [field]: 'floe-fuzz-deep-marker' })
  const at = Buffer.from(shell).indexOf(Buffer.from(marker))
  return concat([shell.subarray(0, at), deep, shell.subarray(at + marker.byteLength)])
}

/** One of `messages`, length-prefixed, with one bit flipped anywhere in it (prefix included), uniformly. */
export function bitFlipped (...messages: Uint8Array[]): fc.Arbitrary<{ kind: string, bytes: Uint8Array }> {
  return fc.record({ which: fc.noBias(fc.nat()), at: fc.noBias(fc.nat()), bit: fc.integer({ min: 0, max: 7 }) }).map(({ which, at, bit }) => {
    const message = lengthPrefixed(messages[which % messages.length] as Uint8Array)
    const i = at % message.byteLength
    const bytes = message.slice()
    bytes[i] = (bytes[i] as number) ^ (1 << bit)
    return { kind: `message ${which % messages.length}, bit ${bit} of byte ${i} flipped`, bytes }
  })
}

/**
 * Every family of input for one protocol: `valid` are well-formed messages (each a whole
 * conversation's first message, unprefixed) from which the mutations start.
 */
export function protocolInputs (spec: { maxBytes: number, types: readonly string[], fields: readonly string[], valid: readonly Uint8Array[] }): fc.Arbitrary<Sent> {
  const halfClose = fc.boolean()
  const garbage = fc.record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 2048 }), halfClose }).map(({ bytes, halfClose }): Sent => ({ kind: 'garbage', chunks: [bytes], halfClose }))
  const lying = fc.record({ length: lyingLengths(spec.maxBytes), body: fc.uint8Array({ maxLength: 512 }), halfClose })
    .map(({ length, body, halfClose }): Sent => ({ kind: `length ${length} with ${body.byteLength} bytes`, chunks: [concat([varint(length), body])], halfClose }))
  // a varint that never ends, or ends past 64 bits
  const endless = fc.integer({ min: 9, max: 64 }).map((n): Sent => ({ kind: `a ${n}-byte varint`, chunks: [concat([new Uint8Array(n).fill(0xff), Uint8Array.from([0x01])])], halfClose: true }))
  const shaped = fc.record({ body: wrongShape(spec.types, spec.fields), halfClose, repeat: fc.integer({ min: 1, max: 3 }) })
    .map(({ body, halfClose, repeat }): Sent => ({ kind: 'wrong shape', chunks: Array.from({ length: repeat }, () => lengthPrefixed(body)), halfClose }))
  const deep = fc.record({ depth: fc.constantFrom(64, 500, 5_000, 60_000), map: fc.boolean(), typed: fc.option(fc.tuple(fc.constantFrom(...spec.types), fc.constantFrom(...spec.fields)), { nil: undefined }) })
    .map(({ depth, map, typed }): Sent => ({ kind: `nested ${depth} deep`, chunks: [lengthPrefixed(deeplyNested(depth, map, typed?.[0], typed?.[1]))], halfClose: true }))
  const flipped = fc.record({ which: fc.noBias(fc.nat()), message: bitFlipped(...spec.valid), halfClose })
    .map(({ message, halfClose }): Sent => ({ kind: message.kind, chunks: [message.bytes], halfClose }))
  const truncated = fc.record({ which: fc.noBias(fc.nat()), cut: fc.noBias(fc.nat()) })
    .map(({ which, cut }): Sent => {
      const message = lengthPrefixed(spec.valid[which % spec.valid.length] as Uint8Array)
      return { kind: `message ${which % spec.valid.length} cut at ${cut % message.byteLength}`, chunks: [message.subarray(0, cut % message.byteLength)], halfClose: true }
    })
  return fc.oneof(
    { weight: 2, arbitrary: garbage },
    { weight: 2, arbitrary: lying },
    { weight: 1, arbitrary: endless },
    { weight: 3, arbitrary: shaped },
    { weight: 1, arbitrary: deep },
    { weight: 4, arbitrary: flipped },
    { weight: 1, arbitrary: truncated }
  )
}
