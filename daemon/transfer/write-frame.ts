import type { Stream } from '@libp2p/interface'
import { encodeDagFrame, lengthPrefixed, type DagFrame } from '../../protocol/transfer/dag.js'

/** Writes one length-prefixed message, waiting for the stream to drain when its buffer is full. */
export async function writeMessage (stream: Pick<Stream, 'send' | 'onDrain'>, parts: Uint8Array[], signal: AbortSignal): Promise<void> {
  let needsDrain = false
  for (const part of lengthPrefixed(parts)) {
    if (!stream.send(part)) needsDrain = true
  }
  if (needsDrain) await stream.onDrain({ signal })
}

export async function writeFrame (stream: Pick<Stream, 'send' | 'onDrain'>, frame: DagFrame, signal: AbortSignal): Promise<void> {
  await writeMessage(stream, encodeDagFrame(frame), signal)
}
