import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import type { LogLine } from '../../protocol/jobs/job.js'
import { decodeClientMessage, encodeJobMessage, LOG_BATCH_BYTES, MAX_LOG_BATCH_LINES, JOB_HEARTBEAT_MS, JOB_MAX_INBOUND_STREAMS, JOB_MAX_OUTBOUND_STREAMS, JOB_MAX_PENDING_REQUESTS, JOB_MAX_PENDING_REQUESTS_PER_PEER, JOB_PROTOCOL, JOB_PROTOCOL_V1_0, JOB_PROTOCOL_V1_2, JOB_PROTOCOLS, JOB_REQUEST_TIMEOUT_MS, JOB_SILENCE_MS, JobServerBusyError, MAX_JOB_MESSAGE_BYTES, meteredProtocol, systemMetricsProtocol, type ProviderMessage } from '../../protocol/jobs/wire.js'
import { MAX_SYSTEM_SAMPLES_PER_MESSAGE } from '../../protocol/jobs/system-metrics.js'
import { ACTIVITY_MIN_GAP_MS } from '../../protocol/jobs/workspace-activity.js'
import { FINAL_VOUCHER_WAIT_MS } from '../../protocol/billing/metering.js'
import type { Logger } from '../log.js'
import { streamChannel, type MessageChannel } from '../p2p/message-channel.js'
import type { ProviderJobs } from './provider-jobs.js'

/** Log lines cut into messages of at most LOG_BATCH_BYTES of text (a longer line goes alone). */
export function logBatches (lines: readonly LogLine[]): LogLine[][] {
  const batches: LogLine[][] = []
  let batch: LogLine[] = []
  let bytes = 0
  for (const line of lines) {
    const size = line.line.length * 3 + 64
    if (batch.length > 0 && bytes + size > LOG_BATCH_BYTES) {
      batches.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(line)
    bytes += size
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}

export interface JobServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  jobs: ProviderJobs
  log: Logger
}

/**
 * `/floe/job/1.0.0`, provider side: each stream submits a job or attaches to one, then
 * carries its events until the receipt. A client that falls silent only loses the stream;
 * its job runs on (it can attach again, or pick the output up later).
 */
export function jobServer ({ libp2p, jobs, log }: JobServerComponents) {
  let life: AbortController | undefined
  /** streams whose first message is being read, in all and per peer (JOB_MAX_PENDING_REQUESTS) */
  let pendingTotal = 0
  const pendingPerPeer = new Map<string, number>()
  const admitPending = (peer: string): (() => void) => {
    const mine = pendingPerPeer.get(peer) ?? 0
    if (pendingTotal >= JOB_MAX_PENDING_REQUESTS) throw new JobServerBusyError(`reading ${pendingTotal} requests already, the most at once`)
    if (mine >= JOB_MAX_PENDING_REQUESTS_PER_PEER) throw new JobServerBusyError(`reading ${mine} requests from ${peer} already, the most from one peer`)
    pendingTotal++
    pendingPerPeer.set(peer, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      pendingTotal--
      const left = (pendingPerPeer.get(peer) ?? 1) - 1
      if (left > 0) pendingPerPeer.set(peer, left)
      else pendingPerPeer.delete(peer)
    }
  }

  /** `firstRead` is called once the first message is in (the stream no longer counts as pending). */
  const serve = async (channel: MessageChannel, protocol: string, firstRead?: () => void): Promise<void> => {
    const signal = life?.signal
    if (signal == null) {
      channel.abort(new Error('the job service is stopped'))
      return
    }
    const peer = channel.remotePeer
    const first = await channel.read({ signal: AbortSignal.any([signal, AbortSignal.timeout(JOB_REQUEST_TIMEOUT_MS)]) })
    firstRead?.()
    if (first == null) return
    const message = decodeClientMessage(first)
    let jobId: string
    let after = 0
    if (message.type === 'submit' && !meteredProtocol(protocol)) {
      // An unmetered job would run on promises never asked for: a client on an older protocol
      // could have any job for nothing. Older clients may still attach to jobs they started.
      await channel.send(encodeJobMessage({ type: 'refused', reason: 'invalid', message: `this provider bills by metered usage (${JOB_PROTOCOL_V1_2}); ${protocol} carries no vouchers: upgrade floe` }))
      await channel.close()
      return
    }
    if (message.type === 'submit') {
      const result = await jobs.submit(message.request, message.signature, peer, { metered: meteredProtocol(protocol) })
      if (!result.accepted) {
        await channel.send(encodeJobMessage({ type: 'refused', reason: result.reason, message: result.message }))
        await channel.close()
        return
      }
      jobId = result.jobId
      await channel.send(encodeJobMessage({ type: 'accepted', jobId, leaseId: result.leaseId, pricePerHour: result.pricePerHour, gpus: result.gpus }))
    } else if (message.type === 'attach') {
      jobId = message.jobId
      after = message.after
    } else {
      throw new Error(`a stream must start with submit or attach, not ${message.type}`)
    }
    await follow(channel, jobId, after, signal, protocol)
  }

  /**
   * Sends the job's state, log lines from `after` on, and at last its receipt, pulling each
   * batch only once the last was sent: a slow client slows its stream, never the provider's
   * memory. Heartbeats go out when there is nothing else to send; the client's heartbeats and
   * a cancel are read alongside.
   */
  const follow = async (channel: MessageChannel, jobId: string, after: number, signal: AbortSignal, protocol: string): Promise<void> => {
    const peer = channel.remotePeer
    const job = jobs.follow(jobId, peer)
    if (job == null) {
      await channel.send(encodeJobMessage({ type: 'refused', reason: 'unknown-job', message: `no job ${jobId} of yours here` }))
      await channel.close()
      return
    }
    const done = new AbortController()
    const stop = AbortSignal.any([signal, done.signal])
    let heard = Date.now()
    let lastSent = 0
    const send = async (message: ProviderMessage): Promise<void> => {
      await channel.send(encodeJobMessage(message), { signal: stop })
      lastSent = Date.now()
    }
    const silence = setInterval(() => {
      if (Date.now() - heard > JOB_SILENCE_MS) done.abort(new Error(`${peer} fell silent`))
    }, JOB_HEARTBEAT_MS)
    // 1.3.0: answers to `save-home` the loop below sends (one writer on the stream); `nudge` wakes it
    const refusals: string[] = []
    let nudge = new AbortController()
    const reading = (async () => {
      while (!stop.aborted) {
        const bytes = await channel.read({ signal: stop })
        if (bytes == null) return
        heard = Date.now()
        const message = decodeClientMessage(bytes)
        if (message.type === 'cancel') jobs.cancel(jobId, peer)
        else if (message.type === 'voucher') await jobs.voucher(jobId, peer, message.voucher)
        else if (message.type === 'save-home') {
          const refusal = jobs.saveHome(jobId, peer)
          // an older stream has no `save-refused`: its client never sends `save-home`
          if (refusal != null && systemMetricsProtocol(protocol) && refusals.length < 8) refusals.push(refusal)
          nudge.abort()
        }
        else if (message.type !== 'heartbeat') throw new Error(`unexpected ${message.type} while following a job`)
      }
    })().catch((err: Error) => { if (!stop.aborted) done.abort(err) })
    try {
      let cursor = after
      let sentState = ''
      let sentHome: ReturnType<typeof job.home>
      let sentUsage: ReturnType<typeof job.usage>
      let sentSystem = 0
      let sentActiveAt = 0
      const metered = meteredProtocol(protocol) && job.metered()
      while (true) {
        stop.throwIfAborted()
        const state = job.state()
        if (`${state.state}@${state.at}` !== sentState) {
          await send({ type: 'state', state: state.state, at: state.at })
          sentState = `${state.state}@${state.at}`
        }
        // 1.0.0 has no `home-saved`: its clients read the home from the system log line
        const home = job.home()
        if (home != null && home !== sentHome && protocol !== JOB_PROTOCOL_V1_0) {
          // `requested` is 1.3.0's: an older client's schema has no such field
          const { requested, ...saved } = home
          await send({ type: 'home-saved', ...saved, ...(requested === true && systemMetricsProtocol(protocol) ? { requested } : {}) })
          sentHome = home
        }
        while (refusals.length > 0) await send({ type: 'save-refused', message: refusals.shift() as string })
        const activeAt = job.activeAt()
        if (activeAt != null && systemMetricsProtocol(protocol) && activeAt - sentActiveAt >= ACTIVITY_MIN_GAP_MS) {
          await send({ type: 'activity', activeAt })
          sentActiveAt = activeAt
        }
        const usage = job.usage()
        if (metered && usage != null && usage !== sentUsage) {
          await send({ type: 'usage', statement: usage })
          sentUsage = usage
        }
        if (systemMetricsProtocol(protocol)) {
          const { samples, total } = job.system(sentSystem)
          for (let i = 0; i < samples.length; i += MAX_SYSTEM_SAMPLES_PER_MESSAGE) await send({ type: 'system', samples: samples.slice(i, i + MAX_SYSTEM_SAMPLES_PER_MESSAGE) })
          sentSystem = total
        }
        const lines = await job.read(cursor, MAX_LOG_BATCH_LINES)
        for (const batch of logBatches(lines)) await send({ type: 'lines', lines: batch })
        if (lines.length > 0) {
          cursor = lines[lines.length - 1]?.seq ?? cursor
          continue
        }
        const receipt = job.receipt()
        if (receipt != null && cursor >= job.lastSeq()) {
          await send({ type: 'finished', receipt })
          // the client answers the receipt with its final voucher (protocol/billing/metering.ts)
          if (metered) await job.finalVoucher(FINAL_VOUCHER_WAIT_MS, stop)
          break
        }
        await job.changed(cursor, AbortSignal.any([stop, AbortSignal.timeout(JOB_HEARTBEAT_MS), nudge.signal]))
        if (nudge.signal.aborted) nudge = new AbortController()
        if (Date.now() - lastSent >= JOB_HEARTBEAT_MS) await send({ type: 'heartbeat' })
      }
      await channel.close().catch(() => {})
    } catch (err: any) {
      const reason = done.signal.reason ?? err
      log.debug({ jobId, peer, err: reason?.message }, 'client stream ended')
      channel.abort(reason instanceof Error ? reason : new Error(String(reason)))
    } finally {
      clearInterval(silence)
      done.abort()
      await reading
    }
  }

  const handler = (stream: Stream, connection: Connection): void => {
    const channel = streamChannel(stream, connection.remotePeer.toString(), MAX_JOB_MESSAGE_BYTES)
    let release: () => void
    try {
      release = admitPending(channel.remotePeer)
    } catch (err: any) {
      log.debug({ peer: channel.remotePeer, err: err.message }, 'job stream refused: too many requests being read')
      void refuseBusy(channel, err)
      return
    }
    serve(channel, stream.protocol ?? JOB_PROTOCOL_V1_0, release).catch((err: Error) => {
      log.debug({ peer: channel.remotePeer, err: err.message }, 'job stream failed')
      channel.abort(err)
    }).finally(release)
  }

  /**
   * Tells the peer `busy` (a client waits and asks again, or reattaches), then resets the
   * stream: nothing it sends is read. The reset waits JOB_HEARTBEAT_MS after the answer, so
   * an honest client that wrote its request as the stream opened reads `busy` instead of
   * failing to write to a stream already reset (a burst of 20 jobs from one client did).
   */
  const refuseBusy = async (channel: MessageChannel, err: Error): Promise<void> => {
    try {
      await channel.send(encodeJobMessage({ type: 'refused', reason: 'busy', message: err.message }), { signal: AbortSignal.timeout(JOB_HEARTBEAT_MS) })
      await channel.close()
      await new Promise(resolve => setTimeout(resolve, JOB_HEARTBEAT_MS).unref())
    } catch (sendErr: any) {
      log.debug({ peer: channel.remotePeer, err: sendErr?.message }, 'could not tell a peer the job service is busy')
    } finally {
      channel.abort(err)
    }
  }

  return {
    /** serves one conversation that did not come over libp2p (this node's own jobs) */
    serveLocal (channel: MessageChannel): void {
      serve(channel, JOB_PROTOCOL).catch((err: Error) => {
        log.debug({ err: err.message }, 'local job channel failed')
        channel.abort(err)
      })
    },
    async start (): Promise<void> {
      if (life != null) return
      life = new AbortController()
      await libp2p.handle([...JOB_PROTOCOLS], handler, { maxInboundStreams: JOB_MAX_INBOUND_STREAMS, maxOutboundStreams: JOB_MAX_OUTBOUND_STREAMS, runOnLimitedConnection: true })
    },
    async stop (): Promise<void> {
      if (life == null) return
      const stopping = life
      life = undefined
      for (const protocol of JOB_PROTOCOLS) await libp2p.unhandle(protocol)
      stopping.abort(new Error('the job service stopped'))
    }
  }
}

export type JobServer = ReturnType<typeof jobServer>
