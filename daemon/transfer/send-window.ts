import { DAG_WINDOW_BYTES, DagProtocolError } from '../../protocol/transfer/dag.js'

/**
 * The sender's side of a protocol's own flow control (`/floe/dag`'s blocks, a tunnel's
 * bytes): at most `size` bytes sent and not yet acknowledged (one piece may always go when
 * nothing is outstanding). A muxer grants window as bytes arrive, not as the receiver uses
 * them, so a protocol whose receiver can be slower than the link needs its own.
 */
export interface SendWindow {
  /** waits until `bytes` more may be sent, then counts them as sent */
  reserve(bytes: number, signal: AbortSignal): Promise<void>
  /** the receiver's running total of stored block bytes */
  acknowledge(total: number): void
  /** wakes every waiter with this error (the receiver went away) */
  fail(err: Error): void
}

export function sendWindow (size = DAG_WINDOW_BYTES, misuse: (message: string) => Error = message => new DagProtocolError(message)): SendWindow {
  let sent = 0
  let acked = 0
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const changed = async (signal: AbortSignal): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      wake = () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
    })
  }
  return {
    async reserve (bytes, signal) {
      while (sent > acked && sent - acked + bytes > size) {
        if (failure != null) throw failure
        signal.throwIfAborted()
        await changed(signal)
      }
      if (failure != null) throw failure
      sent += bytes
    },
    acknowledge (total) {
      if (total < acked || total > sent) {
        this.fail(misuse(`the receiver acknowledged ${total} bytes, but ${acked} were acknowledged and ${sent} sent`))
        return
      }
      acked = total
      wake?.()
    },
    fail (err) {
      failure ??= err
      wake?.()
    }
  }
}
