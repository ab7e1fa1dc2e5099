import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'

/**
 * Whole messages both ways over one conversation: a libp2p stream (length-prefixed), or an
 * in-process pair when a node talks to itself (a daemon running its own jobs as the local
 * provider — libp2p does not dial itself). Sends are queued in order; `read` gives null at
 * the end of the other side's messages.
 */
export interface MessageChannel {
  /** the other side's peer id */
  readonly remotePeer: string
  send(message: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>
  read(options?: { signal?: AbortSignal }): Promise<Uint8Array | null>
  /** ends our side once queued sends are out */
  close(): Promise<void>
  /** ends both sides now */
  abort(err: Error): void
}

/**
 * A message over `maxBytes` is a protocol error; the read rejects (and the caller aborts).
 *
 * Bytes the other side sends while this side is not reading are held up to a point, then
 * the stream is paused (the muxer stops granting the sender window) until reads catch up:
 * a slow reader makes the sender wait instead of overflowing a buffer.
 */
export function streamChannel (stream: Stream, remotePeer: string, maxBytes: number): MessageChannel {
  const pauseAt = Math.max(2 * maxBytes, PAUSE_AT_BYTES)
  const lp = lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: 4 * pauseAt + maxBytes })
  let queue: Promise<void> = Promise.resolve()
  let unread = 0
  let paused = false
  stream.addEventListener('message', event => {
    unread += event.data.byteLength
    if (!paused && unread > pauseAt) {
      paused = true
      stream.pause()
    }
  })
  return {
    remotePeer,
    async send (message, options) {
      const next = queue.then(async () => { await lp.write(message, options) })
      queue = next.catch(() => {})
      await next
    },
    async read (options) {
      let message
      try {
        message = (await lp.read(options)).subarray()
      } catch (err: any) {
        if (err?.name === 'UnexpectedEOFError' && stream.readStatus !== 'readable' && stream.readStatus !== 'paused') return null
        throw err
      }
      unread -= message.byteLength + varintLength(message.byteLength)
      if (paused && unread < pauseAt / 2) {
        paused = false
        stream.resume()
      }
      return message
    },
    async close () {
      await queue
      await stream.close()
    },
    abort (err) {
      stream.abort(err)
    }
  }
}

/** Unread bytes past which a stream channel pauses its stream (at least two messages). */
const PAUSE_AT_BYTES = 1024 * 1024

/** The length prefix's size (an unsigned varint) of a message of `n` bytes. */
function varintLength (n: number): number {
  let length = 1
  for (let rest = n >>> 7; rest > 0; rest >>>= 7) length++
  return length
}

/** Messages one side may have waiting in the other's inbox before its sends wait (backpressure, as a stream has). */
export const LOCAL_WINDOW = 1024

/** Two connected in-process channels; `a` sees `bPeer` as its remote and `b` sees `aPeer`. */
export function localChannelPair (aPeer: string, bPeer: string): [MessageChannel, MessageChannel] {
  const aInbox = inbox()
  const bInbox = inbox()
  const side = (remotePeer: string, own: Inbox, other: Inbox): MessageChannel => ({
    remotePeer,
    async send (message, options) {
      await other.room(options?.signal)
      if (other.ended != null) throw other.ended === true ? new Error('the other side has closed') : other.ended
      other.push(message.slice())
    },
    async read (options) {
      return await own.take(options?.signal)
    },
    async close () { other.end(true) },
    abort (err) {
      own.end(err)
      other.end(err)
    }
  })
  return [side(bPeer, aInbox, bInbox), side(aPeer, bInbox, aInbox)]
}

interface Inbox {
  ended: true | Error | undefined
  /** resolves once the inbox holds fewer than LOCAL_WINDOW messages (or has ended) */
  room(signal?: AbortSignal): Promise<void>
  push(message: Uint8Array): void
  end(reason: true | Error): void
  take(signal?: AbortSignal): Promise<Uint8Array | null>
}

function inbox (): Inbox {
  const messages: Uint8Array[] = []
  let wake: (() => void) | undefined
  let roomWaiters: Array<() => void> = []
  const freeRoom = (): void => {
    const waiters = roomWaiters
    roomWaiters = []
    for (const resolve of waiters) resolve()
  }
  const box: Inbox = {
    ended: undefined,
    async room (signal) {
      while (messages.length >= LOCAL_WINDOW && box.ended == null) {
        signal?.throwIfAborted()
        await new Promise<void>(resolve => { roomWaiters.push(resolve) })
      }
    },
    push (message) {
      messages.push(message)
      wake?.()
    },
    end (reason) {
      box.ended ??= reason
      wake?.()
      freeRoom()
    },
    async take (signal) {
      while (true) {
        signal?.throwIfAborted()
        const next = messages.shift()
        if (next != null) {
          if (messages.length < LOCAL_WINDOW) freeRoom()
          return next
        }
        if (box.ended === true) return null
        if (box.ended != null) throw box.ended
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => { reject(signal?.reason) }
          signal?.addEventListener('abort', onAbort, { once: true })
          wake = () => {
            wake = undefined
            signal?.removeEventListener('abort', onAbort)
            resolve()
          }
        })
      }
    }
  }
  return box
}
