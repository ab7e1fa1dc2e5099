import { setTimeout as sleep } from 'node:timers/promises'
import type { PrivateKey } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { LogLine } from '../../protocol/jobs/job.js'
import { receiptView, type Receipt, type SignedReceipt } from '../../protocol/jobs/receipt.js'
import { decodeProviderMessage, encodeJobMessage, encodeJobRequest, JOB_HEARTBEAT_MS, JOB_REQUEST_SIGNING_DOMAIN, JOB_SILENCE_MS, meteredProtocol, type ProviderMessage } from '../../protocol/jobs/wire.js'
import type { SignedDoc } from '../../protocol/billing/metering.js'
import type { SystemSample } from '../../protocol/jobs/system-metrics.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { signRecord } from '../p2p/signing.js'
import { checkReceipt, type ReceiptCheck } from './receipt-check.js'
import type { JobRecord } from './records.js'
import { stallClock } from './stall-clock.js'

/** How the runner reaches providers and keeps what it learns; wired by the job service. */
export interface RunnerComponents {
  self: string
  privateKey: PrivateKey
  /** a conversation with a provider (this node itself included) on /floe/job (protocol/jobs/wire.ts) */
  open: (provider: string, signal: AbortSignal) => Promise<MessageChannel>
  /** the providers to try, best first, or why there are none */
  candidates: (record: JobRecord, exclude: ReadonlySet<string>) => Candidates
  /** the spec block of the job */
  specBytes: (record: JobRecord) => Promise<Uint8Array>
  /** saves the record; lines are appended to the job's log */
  save: (record: JobRecord, lines?: LogLine[]) => Promise<void>
  /** fetches and pins what a receipt names (output, logs) from the provider */
  collect: (record: JobRecord, receipt: Receipt) => Promise<void>
  /** a workspace's home, as its provider just saved it (`home-saved`); absent: not kept */
  homeSaved?: (record: JobRecord, home: CID, at: number, saved?: { bytes: number, requested: boolean }) => Promise<void>
  /** 1.3.0: a workspace's last traffic (`activity`) and a `save-home` refused (`save-refused`), see workspace-live.ts */
  activity?: (record: JobRecord, activeAt: number) => void
  saveRefused?: (record: JobRecord, message: string) => void
  /** the provider's system samples (1.3.0 `system`), to keep (system-store.ts validates and bounds them) */
  system?: (record: JobRecord, samples: SystemSample[]) => Promise<void>
  /** metering (daemon/billing/client-meter.ts): answers statements and the receipt with vouchers; absent: unmetered */
  billing?: RunnerBilling
  log: Logger
}

/** What the runner asks of billing for a metered job (a stream of /floe/job/1.2.0 to another peer). */
export interface RunnerBilling {
  /** a usage statement: the voucher answering it, `stop` when the job must end for billing (its reason), `dispute` when refused */
  statement: (record: JobRecord, signed: SignedDoc) => Promise<{ voucher: SignedDoc | null, stop: string | null, dispute: { refusal: string, message: string } | null }>
  /** the receipt (it checked out against the deal): the final voucher answering it */
  receipt: (record: JobRecord, receipt: Receipt, signed: SignedReceipt) => Promise<{ voucher: SignedDoc | null }>
}

/** A channel that knows the protocol version agreed (provider-channel.ts sets it). */
type JobChannel = MessageChannel & { protocol?: string }

export interface Candidates {
  providers: Array<{ peerId: string, costPerHour: number }>
  /** why there are none */
  why: string
  /** none is free now as far as the book knows; `providers` are those that fit once their running jobs end */
  busy: boolean
}

/** How often a waiting job (every provider that fits is busy) looks again. */
export const QUEUE_POLL_MS = 500

/** How long after losing its provider's stream the client keeps trying to reattach. */
export const REATTACH_WINDOW_MS = JOB_SILENCE_MS
const REATTACH_PAUSE_MS = 500
/** Log lines received are saved once this many bytes of text wait (or 256 lines, or 20 ms): 1 MiB per job followed. */
const PENDING_LOG_BYTES = 1024 * 1024

type Refused = Extract<ReceiptCheck, { ok: false }>
type Ending = { kind: 'finished', receipt: Receipt } | { kind: 'refused', check: Refused, signed: SignedReceipt } | { kind: 'lost', reason: string }
type StreamEnd = { kind: 'finished', receipt: Receipt } | { kind: 'refused', check: Refused, signed: SignedReceipt } | { kind: 'unknown' }

/**
 * Takes one job from matching to its end: tries the ranked providers in turn until one
 * accepts, follows it (state, log lines, heartbeats), reattaches after a broken stream,
 * calls it lost when the provider stays silent, and retries elsewhere while `retries`
 * allows. `cancel` aborts before a provider holds the job; after, the provider is told.
 * Silence is counted less this daemon's own stalls (stall-clock.ts); this node's own
 * provider, in the same process, is never silent: its stream is reattached until it
 * answers, or says it no longer knows the job.
 */
export function runJob (components: RunnerComponents, record: JobRecord, control: { stop: AbortSignal, shutdown: AbortSignal, onChannel: (channel: MessageChannel | null) => void }): Promise<void> {
  const { log } = components
  const now = (): string => new Date().toISOString()
  const setState = async (state: JobRecord['state'], extra: Partial<JobRecord> = {}): Promise<void> => {
    Object.assign(record, extra)
    if (record.state !== state) {
      record.state = state
      record.states.push({ state, at: now() })
    }
    await components.save(record)
  }

  /**
   * Submits to each candidate until one accepts: the channel of the accepted one, `wait`
   * when every provider that fits is busy, or why no provider will take it.
   */
  const place = async (exclude: Set<string>): Promise<MessageChannel | { failed: string } | { wait: true }> => {
    const { providers, why, busy } = components.candidates(record, exclude)
    if (providers.length === 0) return busy ? { wait: true } : { failed: why }
    const refusals: string[] = []
    let busyRefusals = 0
    for (const candidate of providers) {
      control.stop.throwIfAborted()
      let channel: MessageChannel | undefined
      try {
        channel = await components.open(candidate.peerId, control.stop)
        const request = encodeJobRequest({
          version: 1,
          jobId: record.jobId,
          client: components.self,
          provider: candidate.peerId,
          spec: await components.specBytes(record),
          specCid: CID.parse(record.specCid),
          maxPricePerHour: record.maxPricePerHour ?? candidate.costPerHour,
          issuedAt: Date.now()
        })
        const signature = await signRecord(components.privateKey, JOB_REQUEST_SIGNING_DOMAIN, request)
        await channel.send(encodeJobMessage({ type: 'submit', request, signature }))
        const first = await channel.read({ signal: AbortSignal.any([control.stop, AbortSignal.timeout(JOB_SILENCE_MS * 2)]) })
        const answer = first == null ? null : decodeProviderMessage(first)
        const maxPricePerHour = record.maxPricePerHour ?? candidate.costPerHour
        if (answer?.type === 'accepted' && answer.pricePerHour > maxPricePerHour) {
          // the deal is the request's price cap: a provider that accepts above it is told no
          await channel.send(encodeJobMessage({ type: 'cancel' })).catch(() => {})
          const reason = `accepted at ${answer.pricePerHour}/h, above the ${maxPricePerHour}/h asked`
          channel.abort(new Error(reason))
          refusals.push(`${candidate.peerId}: ${reason}`)
          record.attempts.push({ provider: candidate.peerId, outcome: 'refused', reason, at: now() })
          await components.save(record)
          exclude.add(candidate.peerId)
          continue
        }
        if (answer?.type === 'accepted') {
          record.attempts.push({ provider: candidate.peerId, outcome: 'accepted', reason: null, at: now() })
          record.leaseId = answer.leaseId
          await components.save(Object.assign(record, { provider: candidate.peerId, pricePerHour: answer.pricePerHour }))
          return channel
        }
        const reason = answer?.type === 'refused' ? `${answer.reason}: ${answer.message}` : 'no answer'
        channel.abort(new Error('refused'))
        if (answer?.type === 'refused' && answer.reason === 'busy') {
          // not a verdict on the job: it waits for this provider like any other
          busyRefusals++
          continue
        }
        refusals.push(`${candidate.peerId}: ${reason}`)
        record.attempts.push({ provider: candidate.peerId, outcome: 'refused', reason, at: now() })
        await components.save(record)
      } catch (err: any) {
        channel?.abort(err instanceof Error ? err : new Error(String(err)))
        control.stop.throwIfAborted()
        refusals.push(`${candidate.peerId}: ${err?.message ?? err}`)
        record.attempts.push({ provider: candidate.peerId, outcome: 'unreachable', reason: err?.message ?? String(err), at: now() })
        await components.save(record)
      }
      exclude.add(candidate.peerId)
    }
    if (busyRefusals > 0) return { wait: true }
    return { failed: `every provider refused the job: ${refusals.join('; ')}` }
  }

  /** Follows the job on its provider until the receipt, reattaching after a broken stream. */
  const follow = async (first: MessageChannel | null): Promise<Ending> => {
    const provider = record.provider as string
    const local = provider === components.self
    let channel = first
    let lastHeard = Date.now()
    let reattachError = ''
    while (true) {
      if (channel == null) {
        control.shutdown.throwIfAborted()
        if (!local && clock.quietMs(lastHeard) > REATTACH_WINDOW_MS) {
          return { kind: 'lost', reason: `provider ${provider} went silent${reattachError === '' ? '' : ` (${reattachError})`}` }
        }
        try {
          channel = await components.open(provider, AbortSignal.any([control.stop, AbortSignal.timeout(JOB_HEARTBEAT_MS * 2)]))
          await channel.send(encodeJobMessage({ type: 'attach', jobId: record.jobId, after: record.logLines - record.logBase }))
        } catch (err: any) {
          channel = null
          reattachError = err?.message ?? String(err)
          if (control.stop.aborted && !stopSent) return { kind: 'lost', reason: 'stopped before the provider could be told' }
          await sleep(REATTACH_PAUSE_MS)
          continue
        }
      }
      control.onChannel(channel)
      const ended = await listen(channel, () => { lastHeard = Date.now() })
      control.onChannel(null)
      if (ended.kind === 'finished' || ended.kind === 'refused') return ended
      if (ended.kind === 'unknown') return { kind: 'lost', reason: `provider ${provider} no longer knows the job` }
      log.info({ jobId: record.jobId, provider, why: ended.why }, 'lost the job stream; reattaching')
      channel = null
    }
  }

  let stopSent = false

  /** One stream's messages until the receipt, or until it breaks or falls silent. */
  const listen = async (channel: MessageChannel, heard: () => void): Promise<StreamEnd | { kind: 'broken', why: string }> => {
    const silence = new AbortController()
    const local = record.provider === components.self
    let lastMessage = Date.now()
    const beat = setInterval(() => {
      // this node's own provider runs in this process: if it is quiet, so was the whole loop
      if (!local && clock.quietMs(lastMessage) > JOB_SILENCE_MS) silence.abort(new Error('silent'))
      // a send that fails needs no handling here: the read below sees the broken stream
      else channel.send(encodeJobMessage({ type: 'heartbeat' })).catch(() => {})
    }, JOB_HEARTBEAT_MS)
    const onStop = (): void => {
      stopSent = true
      channel.send(encodeJobMessage({ type: 'cancel' })).catch(() => {})
    }
    if (control.stop.aborted) onStop()
    else control.stop.addEventListener('abort', onStop, { once: true })
    try {
      while (true) {
        let bytes: Uint8Array | null
        try {
          bytes = await channel.read({ signal: AbortSignal.any([silence.signal, control.shutdown]) })
        } catch (err: any) {
          control.shutdown.throwIfAborted()
          channel.abort(err instanceof Error ? err : new Error(String(err)))
          return { kind: 'broken', why: silence.signal.aborted ? 'silent' : err?.message ?? String(err) }
        }
        if (bytes == null) return { kind: 'broken', why: 'the stream ended' }
        lastMessage = Date.now()
        heard()
        const message = decodeProviderMessage(bytes)
        const handled = await handle(message, channel)
        if (handled != null) {
          await channel.close().catch(() => {})
          return handled
        }
      }
    } finally {
      clearInterval(beat)
      control.stop.removeEventListener('abort', onStop)
    }
  }

  let pending: LogLine[] = []
  /** text bytes of `pending`: lines of up to 64 KiB make a count alone no bound (256 of them are 16 MiB) */
  let pendingBytes = 0
  /** a job this client pays for as it runs: on another peer, over a stream that carries metering */
  const metered = (channel: JobChannel): boolean => components.billing != null && record.provider !== components.self && meteredProtocol(channel.protocol)
  const stopForBilling = async (channel: MessageChannel, reason: string): Promise<void> => {
    if (record.billingStop == null) {
      record.billingStop = reason
      await components.save(record)
    }
    await channel.send(encodeJobMessage({ type: 'cancel' })).catch(() => {})
  }
  const handle = async (message: ProviderMessage, channel: JobChannel): Promise<StreamEnd | null> => {
    switch (message.type) {
      case 'lines': {
        for (const received of message.lines) {
          // numbered on from the lines of earlier attempts; a line already held (after a reattach) is skipped
          const seq = record.logBase + received.seq
          if (seq !== record.logLines + 1) continue
          record.logLines = seq
          pending.push({ ...received, seq })
          pendingBytes += received.line.length
        }
        if (pending.length >= 256 || pendingBytes >= PENDING_LOG_BYTES) await flush()
        else queueFlush()
        return null
      }
      case 'state':
        if (['preparing', 'running', 'uploading'].includes(message.state) && record.state !== message.state) {
          await flush()
          await setState(message.state)
        }
        return null
      case 'finished': {
        await flush()
        const check = await checkReceipt(message.receipt, deal())
        if (check.ok && metered(channel) && components.billing != null) {
          const { voucher } = await components.billing.receipt(record, check.receipt, message.receipt)
          if (voucher != null) await channel.send(encodeJobMessage({ type: 'voucher', voucher })).catch(() => {})
        }
        return check.ok ? { kind: 'finished', receipt: keep(check.receipt, message.receipt) } : { kind: 'refused', check, signed: message.receipt }
      }
      case 'usage': {
        if (!metered(channel) || components.billing == null) return null
        const answer = await components.billing.statement(record, message.statement)
        if (answer.voucher != null) await channel.send(encodeJobMessage({ type: 'voucher', voucher: answer.voucher })).catch(() => {})
        if (answer.dispute != null && record.dispute == null) {
          record.dispute = { provider: record.provider as string, refusal: `statement-${answer.dispute.refusal}`, message: answer.dispute.message, at: now(), claimed: null, outputFetched: false }
          await components.save(record)
        }
        if (answer.stop != null) await stopForBilling(channel, answer.stop)
        return null
      }
      case 'home-saved':
        await components.homeSaved?.(record, message.home, message.at, { bytes: message.bytes, requested: message.requested === true })
        return null
      case 'activity':
        components.activity?.(record, message.activeAt)
        return null
      case 'save-refused':
        components.saveRefused?.(record, message.message)
        return null
      case 'system':
        await components.system?.(record, message.samples)
        return null
      case 'refused':
        return message.reason === 'unknown-job' ? { kind: 'unknown' } : null
      default:
        return null
    }
  }

  let flushTimer: NodeJS.Timeout | undefined
  const flush = async (): Promise<void> => {
    clearTimeout(flushTimer)
    flushTimer = undefined
    const lines = pending
    pending = []
    pendingBytes = 0
    if (lines.length > 0) await components.save(record, lines)
  }
  const queueFlush = (): void => {
    flushTimer ??= setTimeout(() => { flush().catch((err: Error) => { log.warn({ err: err.message }, 'could not save log lines') }) }, 20)
  }

  const base64 = (signed: SignedReceipt): { payload: string, signature: string } => ({ payload: Buffer.from(signed.payload).toString('base64'), signature: Buffer.from(signed.signature).toString('base64') })

  /** The deal a receipt is checked against: the provider and lease of this attempt, its price, the job's caps. */
  const deal = (): Parameters<typeof checkReceipt>[1] => {
    const provider = record.provider as string
    const accepted = record.attempts.findLast(a => a.provider === provider && a.outcome === 'accepted')
    const pricePerHour = record.pricePerHour ?? 0
    return {
      client: components.self,
      provider,
      jobId: record.jobId,
      leaseId: record.leaseId ?? '',
      specCid: record.specCid,
      acceptedPricePerHour: pricePerHour,
      // without --max-price the cap was the offer's price, which the accepted price was checked against
      maxPricePerHour: record.maxPricePerHour ?? pricePerHour,
      timeoutSeconds: record.spec.timeoutSeconds,
      acceptedAt: accepted != null ? Date.parse(accepted.at) : Date.now(),
      now: Date.now()
    }
  }

  const keep = (receipt: Receipt, signed: SignedReceipt): Receipt => {
    record.signedReceipt = base64(signed)
    return receipt
  }

  /**
   * A receipt that does not match the deal: not the job's receipt and its cost not counted;
   * the job fails with the reason, the dispute is kept with the record (and the provider's
   * reliability counts it). What it names is fetched as evidence when the receipt is the
   * provider's genuine statement about this job (signed, this job's); a forged or foreign
   * one proves nothing, so nothing it names is fetched.
   */
  const dispute = async (check: Refused, signed: SignedReceipt): Promise<void> => {
    const provider = record.provider as string
    const message = `receipt refused: ${check.message}`
    log.warn({ jobId: record.jobId, provider, refusal: check.refusal, reason: check.message }, 'receipt refused; dispute recorded')
    let outputFetched = false
    const genuine = check.receipt != null && !['invalid', 'provider', 'signature', 'job'].includes(check.refusal)
    if (genuine && check.receipt != null) {
      try {
        await components.collect(record, check.receipt)
        outputFetched = true
      } catch (err: any) {
        log.warn({ jobId: record.jobId, provider, err: err?.message ?? String(err) }, 'could not fetch the output a refused receipt names')
      }
    }
    const claimed = check.receipt
    await setState('failed', {
      reason: message,
      receipt: null,
      signedReceipt: null,
      disputedReceipt: base64(signed),
      dispute: { provider, refusal: check.refusal, message: check.message, at: now(), claimed: claimed == null ? null : receiptView(claimed), outputFetched },
      outputCid: outputFetched ? claimed?.outputCid?.toString() ?? null : null,
      logsCid: outputFetched ? claimed?.logsCid?.toString() ?? null : null
    })
  }

  const finish = async (receipt: Receipt): Promise<void> => {
    // stopped by this client for billing: its own reason says why (the provider's says only that the client stopped it)
    let reason = receipt.state === 'stopped' && record.billingStop != null ? record.billingStop : receipt.reason
    let state: JobRecord['state'] = receipt.state
    try {
      await components.collect(record, receipt)
    } catch (err: any) {
      state = 'failed'
      reason = `the output could not be fetched from ${receipt.provider}: ${err?.message ?? err}`
    }
    await setState(state, {
      receipt: receiptView(receipt),
      exitCode: receipt.exitCode,
      reason,
      outputCid: receipt.outputCid?.toString() ?? null,
      logsCid: receipt.logsCid?.toString() ?? null
    })
  }

  const clock = stallClock()
  return (async () => {
    const exclude = new Set<string>()
    let retriesLeft = record.retries - record.attempts.filter(a => a.outcome === 'lost').length
    // A job that had a provider when the daemon stopped is followed again first.
    let resumed = record.provider != null && record.leaseId != null
    try {
      while (true) {
        let channel: MessageChannel | null = null
        if (!resumed) {
          await setState('matching')
          let placed = await place(exclude)
          while ('wait' in placed) {
            await setState('queued')
            await sleep(QUEUE_POLL_MS, undefined, { signal: AbortSignal.any([control.stop, control.shutdown]) })
            placed = await place(exclude)
          }
          if ('failed' in placed) {
            await setState('failed', { reason: placed.failed })
            return
          }
          channel = placed
        }
        resumed = false
        const ending = await follow(channel)
        if (ending.kind === 'finished') {
          await finish(ending.receipt)
          return
        }
        if (ending.kind === 'refused') {
          await dispute(ending.check, ending.signed)
          return
        }
        const provider = record.provider as string
        record.attempts.push({ provider, outcome: 'lost', reason: ending.reason, at: now() })
        log.warn({ jobId: record.jobId, provider, reason: ending.reason }, 'job lost')
        if (control.stop.aborted) {
          await setState('stopped', { reason: ending.reason })
          return
        }
        if (retriesLeft <= 0) {
          await setState('lost', { reason: ending.reason })
          return
        }
        retriesLeft--
        exclude.add(provider)
        await setState('matching', { provider: null, pricePerHour: null, leaseId: null, logBase: record.logLines })
      }
    } catch (err: any) {
      // the daemon is stopping: the job goes on at its provider, and the next start follows it again
      if (control.shutdown.aborted) return
      await flush().catch(() => {})
      if (control.stop.aborted) await setState('stopped', { reason: 'stopped before a provider took it' })
      else {
        log.error({ jobId: record.jobId, err: err?.message }, 'job failed on the client side')
        await setState('failed', { reason: err?.message ?? String(err) })
      }
    } finally {
      clock.stop()
    }
  })()
}
