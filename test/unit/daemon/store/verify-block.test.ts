import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { verifyBlock } from '../../../../daemon/store/verify-block.js'

const bytes = new TextEncoder().encode('hello, floe')

describe('verifyBlock', () => {
  it('accepts bytes that hash to the CID (sha2-256, sha2-512, identity)', async () => {
    for (const hasher of [sha256, sha512, identity]) {
      const cid = CID.createV1(raw.code, await hasher.digest(bytes))
      expect(await verifyBlock(cid, bytes)).toBe(true)
    }
  })

  it('rejects other bytes', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const tampered = bytes.slice()
    tampered[0] = (tampered[0] ?? 0) ^ 1
    expect(await verifyBlock(cid, tampered)).toBe(false)
    expect(await verifyBlock(cid, bytes.subarray(1))).toBe(false)
    expect(await verifyBlock(CID.createV1(raw.code, identity.digest(bytes)), tampered)).toBe(false)
  })

  it('rejects a truncated digest rather than comparing a prefix', async () => {
    const full = await sha256.digest(bytes)
    const truncated = CID.createV1(raw.code, Digest.create(sha256.code, full.digest.subarray(0, 20)))
    expect(await verifyBlock(truncated, bytes)).toBe(false)
  })

  it('refuses a hash function it cannot check', async () => {
    const cid = CID.createV1(raw.code, Digest.create(0x1e, new Uint8Array(32))) // blake3
    await expect(verifyBlock(cid, bytes)).rejects.toMatchObject({ name: 'UnsupportedHashError', message: expect.stringContaining('0x1e') })
  })
})
