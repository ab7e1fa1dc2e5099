import { openControlStream } from '../p2p/open-stream.js'
import type { Connection, Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { openVoucher, type SignedDoc } from '../../protocol/billing/metering.js'
import {
  BILLING_EXCHANGE_TIMEOUT_MS, BILLING_MAX_INBOUND_STREAMS, BILLING_MAX_OUTBOUND_STREAMS, BILLING_PROTOCOL, decodeBillingAnswer, decodeBillingRequest,
  decodeLedgerStatement, encodeBillingMessage, encodeLedgerStatement, MAX_BILLING_MESSAGE_BYTES, MAX_STATEMENT_JOBS, STATEMENT_SIGNING_DOMAIN,
  type LedgerStatement
} from '../../protocol/billing/statement.js'
import { signedBy } from '../../protocol/signed-by.js'
import type { Logger } from '../log.js'
import { streamChannel, type MessageChannel } from '../p2p/message-channel.js'
import { signRecord } from '../p2p/signing.js'
import { StatementExchangeError } from './errors.js'
import type { BillingLedger } from './ledger.js'
import { bilateralSettlement, type SettlementMethod } from './settlement.js'

/** How two statements compare: agreed, or the jobs where they differ. */
export interface StatementComparison {
  peer: string
  agree: boolean
  jobs: number
  /** micro-credits this node owes the peer net (negative: the peer owes it), by each side's count */
  ours: number
  theirs: number
  differing: Array<{ jobId: string, ours: number | null, theirs: number | null }>
}

export interface StatementServiceComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections'>
  self: string
  privateKey: PrivateKey
  ledger: BillingLedger
  log: Logger
}

/** Refused vouchers in one statement past which the rest is not read. */
const MAX_REFUSED_PER_STATEMENT = 16

const bytes = (base64: string): Uint8Array => new Uint8Array(Buffer.from(base64, 'base64'))

/**
 * Statements and settlements between two nodes over `/floe/billing/1.0.0`
 * (protocol/billing/statement.ts): `exchange(peer)` sends this node's signed statement, takes
 * in the vouchers of the peer's answer that it lacked (each checked: signed by the job's
 * client, about a job between the two), and compares the two line by line; `settle(peer)`
 * settles through the bilateral ledger (settlement.ts) once they agree.
 */
export function statementService ({ libp2p, self, privateKey, ledger, log }: StatementServiceComponents) {
  let started = false

  /** This node's statement to `peer`: every job between them, with the highest voucher held. */
  const statementTo = async (peer: string): Promise<LedgerStatement> => {
    const jobs: LedgerStatement['jobs'] = []
    for await (const row of ledger.rows()) {
      if (row.counterparty !== peer) continue
      if (jobs.length >= MAX_STATEMENT_JOBS) break
      const voucher: SignedDoc | null = row.voucher == null ? null : { payload: bytes(row.voucher.payload), signature: bytes(row.voucher.signature) }
      jobs.push({ jobId: row.jobId, role: row.role, amount: row.amount, final: row.final, voucher })
    }
    jobs.sort((a, b) => a.jobId.localeCompare(b.jobId))
    return { version: 1, from: self, to: peer, at: Date.now(), jobs }
  }
  const sign = async (statement: LedgerStatement): Promise<{ payload: Uint8Array, signature: Uint8Array }> => {
    const payload = encodeLedgerStatement(statement)
    return { payload, signature: await signRecord(privateKey, STATEMENT_SIGNING_DOMAIN, payload) }
  }

  /** The peer's statement, checked (its signature, to this node), its new vouchers taken in; refused vouchers are counted against it. */
  const takeIn = async (peer: string, signed: { payload: Uint8Array, signature: Uint8Array }): Promise<LedgerStatement> => {
    const statement = decodeLedgerStatement(signed.payload)
    if (statement.from !== peer || statement.to !== self) throw new StatementExchangeError(`the statement is from ${statement.from} to ${statement.to}, not from ${peer} to this node`)
    if (!await signedBy(peer, STATEMENT_SIGNING_DOMAIN, signed.payload, signed.signature)) throw new StatementExchangeError(`the statement is not signed by ${peer}`)
    let refused = 0
    for (const line of statement.jobs) {
      if (line.voucher == null) continue
      try {
        const voucher = await openVoucher(line.voucher)
        const between = (voucher.client === peer && voucher.provider === self) || (voucher.client === self && voucher.provider === peer)
        if (!between || voucher.jobId !== line.jobId) throw new Error(`a voucher of job ${voucher.jobId} between ${voucher.client} and ${voucher.provider}, not between this node and ${peer}`)
        // a voucher signed by its client for a lease between the two: it counts in that lease's row (opened if missing)
        if (await ledger.applyVoucher(voucher, line.voucher, self)) log.info({ jobId: voucher.jobId, peer, seq: voucher.seq, amount: voucher.amount }, 'a voucher this ledger lacked came with a statement')
      } catch (err: any) {
        log.warn({ jobId: line.jobId, peer, err: err?.message }, 'a voucher in a statement was refused')
        await ledger.strike({ peer, jobId: line.jobId, kind: 'statement-exchange', refusal: 'voucher', message: err?.message ?? String(err), at: Date.now() })
        // a statement of forged vouchers costs a signature check each, and a synced write each refusal: a few are enough to judge it
        if (++refused >= MAX_REFUSED_PER_STATEMENT) throw new StatementExchangeError(`${peer}'s statement holds ${refused} vouchers that do not check out; the rest were not read`)
      }
    }
    return statement
  }

  const balance = (lines: LedgerStatement['jobs'], signerIsSelf: boolean): number => {
    // what the signer owes the other side: its client jobs minus its provider jobs
    const owes = lines.reduce((sum, line) => sum + (line.role === 'client' ? line.amount : -line.amount), 0)
    return signerIsSelf ? owes : -owes
  }

  // what a job comes to between the two: a job given the same provider again has a line per lease
  const byJob = (lines: LedgerStatement['jobs']): Map<string, number> => {
    const sums = new Map<string, number>()
    for (const line of lines) sums.set(line.jobId, (sums.get(line.jobId) ?? 0) + line.amount)
    return sums
  }
  const compare = (peer: string, ours: LedgerStatement, theirs: LedgerStatement): StatementComparison => {
    const mine = byJob(ours.jobs)
    const other = byJob(theirs.jobs)
    const differing: StatementComparison['differing'] = []
    for (const jobId of new Set([...mine.keys(), ...other.keys()])) {
      const a = mine.get(jobId) ?? null
      const b = other.get(jobId) ?? null
      if ((a ?? 0) !== (b ?? 0)) differing.push({ jobId, ours: a, theirs: b })
    }
    differing.sort((a, b) => a.jobId.localeCompare(b.jobId))
    return { peer, agree: differing.length === 0, jobs: new Set([...mine.keys(), ...other.keys()]).size, ours: balance(ours.jobs, true), theirs: balance(theirs.jobs, false), differing }
  }

  const open = async (peer: string, signal: AbortSignal): Promise<MessageChannel> => {
    try {
      const stream = await openControlStream(libp2p, peerIdFromString(peer), BILLING_PROTOCOL, { signal })
      return streamChannel(stream, peer, MAX_BILLING_MESSAGE_BYTES)
    } catch (err: any) {
      throw new StatementExchangeError(`could not reach ${peer} for a statement: ${err?.message ?? err}`)
    }
  }

  const exchange = async (peer: string): Promise<StatementComparison> => {
    if (peer === self) throw new StatementExchangeError('a node has no ledger with itself')
    const signal = AbortSignal.timeout(BILLING_EXCHANGE_TIMEOUT_MS)
    const channel = await open(peer, signal)
    try {
      await channel.send(encodeBillingMessage({ type: 'statement', statement: await sign(await statementTo(peer)) }), { signal })
      const bytes = await channel.read({ signal })
      if (bytes == null) throw new StatementExchangeError(`${peer} closed the stream without a statement`)
      const answer = decodeBillingAnswer(bytes)
      if (answer.type === 'refused') throw new StatementExchangeError(`${peer} refused the statement: ${answer.message}`)
      if (answer.type !== 'statement') throw new StatementExchangeError(`${peer} answered a statement with ${answer.type}`)
      const theirs = await takeIn(peer, answer.statement)
      await channel.close().catch(() => {})
      // ours again: what their statement brought is in it now
      return compare(peer, await statementTo(peer), theirs)
    } catch (err: any) {
      channel.abort(err instanceof Error ? err : new Error(String(err)))
      if (err?.name === 'StatementExchangeError') throw err
      throw new StatementExchangeError(`the statement exchange with ${peer} failed: ${err?.message ?? err}`)
    }
  }

  const settlement: SettlementMethod = bilateralSettlement({ self, privateKey, ledger, open, exchange, log })

  const serve = async (channel: MessageChannel): Promise<void> => {
    const peer = channel.remotePeer
    const signal = AbortSignal.timeout(BILLING_EXCHANGE_TIMEOUT_MS)
    const first = await channel.read({ signal })
    if (first == null) return
    const request = decodeBillingRequest(first)
    if (request.type === 'statement') {
      try {
        await takeIn(peer, request.statement)
      } catch (err: any) {
        await channel.send(encodeBillingMessage({ type: 'refused', message: err?.message ?? String(err) }), { signal })
        await channel.close()
        return
      }
      await channel.send(encodeBillingMessage({ type: 'statement', statement: await sign(await statementTo(peer)) }), { signal })
    } else {
      await channel.send(encodeBillingMessage(await settlement.countersign(peer, request.settlement)), { signal })
    }
    await channel.close()
  }

  const handler = (stream: Stream, connection: Connection): void => {
    const channel = streamChannel(stream, connection.remotePeer.toString(), MAX_BILLING_MESSAGE_BYTES)
    serve(channel).catch((err: Error) => {
      log.debug({ peer: channel.remotePeer, err: err.message }, 'billing stream failed')
      channel.abort(err)
    })
  }

  return {
    exchange,
    /** This node's statement to `peer`, unsigned (for views). */
    statementTo,
    settle: async (peer: string) => await settlement.settle(peer),
    async start (): Promise<void> {
      if (started) return
      started = true
      await libp2p.handle(BILLING_PROTOCOL, handler, { maxInboundStreams: BILLING_MAX_INBOUND_STREAMS, maxOutboundStreams: BILLING_MAX_OUTBOUND_STREAMS, runOnLimitedConnection: true })
    },
    async stop (): Promise<void> {
      if (!started) return
      started = false
      await libp2p.unhandle(BILLING_PROTOCOL)
    }
  }
}

export type StatementService = ReturnType<typeof statementService>
