import { setTimeout as sleep } from 'node:timers/promises'
import type { PrivateKey, Stream } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { testPeerNode } from '../helpers/test-peer.js'

/**
 * A peer that speaks no protocol properly: a real libp2p node (tcp, noise, yamux, identify,
 * as a floe daemon has) whose streams carry whatever bytes a fuzz test hands it, at whatever
 * pace, and that notes what came back and how the stream ended.
 */
export interface RawPeer {
  node: Libp2p
  privateKey: PrivateKey
  peerId: string
  target: Multiaddr
  /** one conversation on a new stream; never throws for what the daemon does to the stream */
  converse(protocol: string, chunks: Uint8Array[], options: ConverseOptions): Promise<Conversation>
  /** a stream left to the caller (slow peers, floods); undefined when the daemon refused it */
  open(protocol: string): Promise<Stream | undefined>
  stop(): Promise<void>
}

export interface ConverseOptions {
  /** how long to wait for the daemon to end the stream after the last chunk */
  waitMs: number
  /** end our writable side after the last chunk (a truncated message then reads as cut) */
  halfClose: boolean
  /** pause between chunks */
  gapMs?: number
}

export interface Conversation {
  /** 'refused': the stream did not open; 'ended': the daemon closed its side; 'reset': it aborted; 'open': still open at the deadline (then we reset it) */
  end: 'refused' | 'ended' | 'reset' | 'open'
  /** what the daemon sent, concatenated */
  received: Uint8Array
}

export async function rawPeer (address: string): Promise<RawPeer> {
  const { node, privateKey } = await testPeerNode()
  const target = multiaddr(address)
  await node.dial(target)

  const open = async (protocol: string): Promise<Stream | undefined> => {
    try {
      return await node.dialProtocol(target, protocol, { signal: AbortSignal.timeout(5_000) })
    } catch (err: any) {
      // over the daemon's stream cap, refused as it opens, not negotiated within 5 s under a flood, or a protocol it
      // does not speak: a refusal, which is fine (whether the daemon still answers is checked apart)
      if (err?.name === 'TooManyOutboundProtocolStreamsError' || err?.name === 'UnsupportedProtocolError' || err?.name === 'StreamResetError' || err?.name === 'MuxerClosedError' || err?.name === 'StreamStateError' || err?.name === 'TimeoutError') return undefined
      throw err
    }
  }

  return {
    node,
    privateKey,
    peerId: node.peerId.toString(),
    target,
    open,
    async converse (protocol, chunks, options) {
      const stream = await open(protocol)
      if (stream == null) return { end: 'refused', received: new Uint8Array() }
      const parts: Buffer[] = []
      let end: Conversation['end'] = 'open'
      const done = new Promise<void>(resolve => {
        stream.addEventListener('message', event => { parts.push(Buffer.from(event.data.subarray())) })
        stream.addEventListener('remoteCloseWrite', () => { if (end === 'open') end = 'ended'; resolve() }, { once: true })
        stream.addEventListener('close', event => { if (end === 'open') end = event.error != null ? 'reset' : 'ended'; resolve() }, { once: true })
      })
      for (const chunk of chunks) {
        if (end !== 'open' || stream.writeStatus !== 'writable') break
        if (!stream.send(chunk)) await Promise.race([stream.onDrain(), done, sleep(options.waitMs)])
        if (options.gapMs != null) await sleep(options.gapMs)
      }
      if (options.halfClose && end === 'open' && stream.writeStatus === 'writable') {
        await Promise.race([stream.close().catch(() => { /* the daemon reset it meanwhile: `end` says so */ }), done])
      }
      await Promise.race([done, sleep(options.waitMs)])
      const received = new Uint8Array(Buffer.concat(parts))
      stream.abort(new Error('the fuzz run is over'))
      return { end, received }
    },
    async stop () { await node.stop() }
  }
}

/** An unsigned LEB128 varint of any size (multiformats' stops at 2^53): the length prefixes of every floe protocol. */
export function varint (n: bigint): Uint8Array {
  const bytes: number[] = []
  let rest = n
  do {
    const low = Number(rest & 0x7fn)
    rest >>= 7n
    bytes.push(rest > 0n ? low | 0x80 : low)
  } while (rest > 0n)
  return Uint8Array.from(bytes)
}

/** `body` behind its length prefix. */
export const lengthPrefixed = (body: Uint8Array): Uint8Array => concat([varint(BigInt(body.byteLength)), body])

export const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

/** The length-prefixed frames in what a daemon sent (a cut last frame is left out). */
export function frames (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  while (at < bytes.byteLength) {
    let length = 0n
    let shift = 0n
    let byte: number
    do {
      if (at >= bytes.byteLength) return out
      byte = bytes[at++] as number
      length |= BigInt(byte & 0x7f) << shift
      shift += 7n
    } while ((byte & 0x80) !== 0)
    if (BigInt(at) + length > BigInt(bytes.byteLength)) return out
    out.push(bytes.subarray(at, at + Number(length)))
    at += Number(length)
  }
  return out
}
