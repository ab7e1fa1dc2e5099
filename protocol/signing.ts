/**
 * What a peer's key signs: a domain tag (which kind of record, which version) followed by the
 * record's bytes as sent. The tag keeps a signature made for one kind of record from being
 * replayed as another; signing the bytes as sent (not a re-encoding) leaves no room for two
 * encodings of one record.
 */
export function signingBytes (domain: string, payload: Uint8Array): Uint8Array {
  const tag = new TextEncoder().encode(domain)
  const bytes = new Uint8Array(tag.byteLength + payload.byteLength)
  bytes.set(tag)
  bytes.set(payload, tag.byteLength)
  return bytes
}

