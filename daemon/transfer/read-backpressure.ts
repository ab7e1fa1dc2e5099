import type { Stream } from '@libp2p/interface'
import { varint } from 'multiformats'

export interface ReadBackpressure {
  /** call with each length-prefixed message's body length once it has been read */
  consumed(bodyBytes: number): void
  /** call before each read: resumes the stream when too little is buffered to hold a whole message */
  beforeRead(): void
  /** stops counting and resumes the stream if paused */
  stop(): void
}

/**
 * Receiver-side backpressure for a stream read through `lpStream`. lpStream takes every byte the
 * stream delivers into its own buffer, and yamux grants the sender more window as bytes are
 * delivered, so a consumer slower than the link would buffer without bound. This counts bytes
 * delivered and not yet consumed, pauses the stream above `pauseAt` (yamux then stops granting
 * window and the sender's `send()` returns false until it drains), and resumes it before a read
 * when less than `resumeBelow` is buffered — which must exceed the largest message, so a paused
 * stream always has a whole message buffered for the next read.
 */
export function readBackpressure (stream: Stream, limits: { pauseAt: number, resumeBelow: number }): ReadBackpressure {
  let buffered = 0
  const onMessage = (event: { data: { byteLength: number } }): void => {
    buffered += event.data.byteLength
    if (buffered > limits.pauseAt && stream.readStatus === 'readable') stream.pause()
  }
  stream.addEventListener('message', onMessage)
  return {
    consumed (bodyBytes) {
      buffered -= bodyBytes + varint.encodingLength(bodyBytes)
    },
    beforeRead () {
      if (buffered < limits.resumeBelow && stream.readStatus === 'paused') stream.resume()
    },
    stop () {
      stream.removeEventListener('message', onMessage)
      // let whatever is left through, so the stream can finish closing
      if (stream.readStatus === 'paused') stream.resume()
    }
  }
}
