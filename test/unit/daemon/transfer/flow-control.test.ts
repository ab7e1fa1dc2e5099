import { describe, expect, it } from 'vitest'
import { decodeDagAck, encodeDagAck } from '../../../../protocol/transfer/dag.js'
import { sendWindow } from '../../../../daemon/transfer/send-window.js'

describe('acknowledgements', () => {
  it('round-trip as one varint and refuse anything else', () => {
    for (const n of [0, 1, 4 * 1024 * 1024, 2 ** 40]) expect(decodeDagAck(encodeDagAck(n))).toBe(n)
    expect(() => decodeDagAck(new Uint8Array())).toThrow(/expected one varint/)
    expect(() => decodeDagAck(new Uint8Array([0x80]))).toThrow(/invalid acknowledgement/)
    expect(() => decodeDagAck(new Uint8Array([1, 2]))).toThrow(/not one unsigned varint/)
    expect(() => decodeDagAck(new Uint8Array(10).fill(0x80))).toThrow(/expected one varint/)
  })
})

describe('sendWindow', () => {
  it('holds the sender at one window of unacknowledged bytes until the receiver acknowledges', async () => {
    const window = sendWindow(10)
    const signal = new AbortController().signal
    await window.reserve(6, signal)
    await window.reserve(4, signal)
    let third = false
    const pending = window.reserve(3, signal).then(() => { third = true })
    await new Promise(resolve => setImmediate(resolve))
    expect(third).toBe(false)
    window.acknowledge(6)
    await pending
    expect(third).toBe(true)
  })

  it('always lets one block go when nothing is outstanding, even a block larger than the window', async () => {
    const window = sendWindow(10)
    await window.reserve(50, new AbortController().signal)
  })

  it('fails the waiting sender on a bogus acknowledgement or when the receiver goes away', async () => {
    const bogus = sendWindow(10)
    const signal = new AbortController().signal
    await bogus.reserve(10, signal)
    const waiting = bogus.reserve(5, signal)
    bogus.acknowledge(11)
    await expect(waiting).rejects.toMatchObject({ name: 'DagProtocolError' })

    const gone = sendWindow(10)
    await gone.reserve(10, signal)
    const stuck = gone.reserve(5, signal)
    gone.fail(new Error('receiver closed'))
    await expect(stuck).rejects.toThrow('receiver closed')
  })

  it('gives up when its signal aborts', async () => {
    const window = sendWindow(10)
    const controller = new AbortController()
    await window.reserve(10, controller.signal)
    const waiting = window.reserve(1, controller.signal)
    controller.abort(new Error('stopping'))
    await expect(waiting).rejects.toThrow('stopping')
  })
})
