import { streamPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { localChannelPair, streamChannel } from '../../../../daemon/p2p/message-channel.js'

describe('message channels', () => {
  it('carry whole messages in order both ways, and end with null', async () => {
    const [a, b] = localChannelPair('A', 'B')
    expect([a.remotePeer, b.remotePeer]).toEqual(['B', 'A'])
    await a.send(new Uint8Array([1]))
    await a.send(new Uint8Array([2, 3]))
    await a.close()
    expect(await b.read()).toEqual(new Uint8Array([1]))
    expect(await b.read()).toEqual(new Uint8Array([2, 3]))
    expect(await b.read()).toBeNull()
    await b.send(new Uint8Array([9]))
    expect(await a.read()).toEqual(new Uint8Array([9]))
    b.abort(new Error('gone'))
    await expect(a.read()).rejects.toThrow('gone')
  })

  it('over a libp2p stream, refuse a message over the size cap', async () => {
    const [x, y] = await streamPair()
    const sender = streamChannel(x, 'Y', 1024)
    const receiver = streamChannel(y, 'X', 16)
    await sender.send(new Uint8Array(8))
    expect((await receiver.read())?.byteLength).toBe(8)
    await sender.send(new Uint8Array(100))
    await expect(receiver.read()).rejects.toThrow()
  })
})
