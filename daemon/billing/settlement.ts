import type { PrivateKey } from '@libp2p/interface'
import { decodeBillingAnswer, decodeSettlement, encodeBillingMessage, encodeSettlement, SETTLEMENT_SIGNING_DOMAIN, type BillingAnswer, type Settlement } from '../../protocol/billing/statement.js'
import { formatCredits } from '../../protocol/billing/credits.js'
import { signedBy } from '../../protocol/signed-by.js'
import type { Logger } from '../log.js'
import type { MessageChannel } from '../p2p/message-channel.js'
import { signRecord } from '../p2p/signing.js'
import { StatementExchangeError } from './errors.js'
import type { BillingLedger, SettlementRecord } from './ledger.js'
import type { StatementComparison } from './statement-service.js'

/**
 * How the balance between two peers is settled. The bilateral ledger is the first (and only)
 * method: balances net between the two, and a payment made outside floe is recorded by both
 * signing a settlement of the net. A payment network would be another method: it would
 * move `aOwesB` on that network and put the network's proof of payment in the settlement.
 */
export interface SettlementMethod {
  readonly name: string
  /** settles the balance with `peer` (their statements must agree first) */
  settle(peer: string): Promise<SettlementRecord>
  /** the answer to a peer's signed settlement: countersigned when it matches this ledger, else refused */
  countersign(peer: string, signed: { payload: Uint8Array, signature: Uint8Array }): Promise<BillingAnswer>
}

export interface BilateralComponents {
  self: string
  privateKey: PrivateKey
  ledger: BillingLedger
  open: (peer: string, signal: AbortSignal) => Promise<MessageChannel>
  exchange: (peer: string) => Promise<StatementComparison>
  log: Logger
}

/** micro-credits this node owes `peer` net, after what was settled before */
export async function netOwed (ledger: Pick<BillingLedger, 'rows' | 'settlements'>, peer: string): Promise<{ net: number, jobs: number }> {
  let net = 0
  let jobs = 0
  for await (const row of ledger.rows()) {
    if (row.counterparty !== peer) continue
    jobs++
    net += row.role === 'client' ? row.amount : -row.amount
  }
  for (const settled of await ledger.settlements(peer)) net -= settled.net
  return { net, jobs }
}

export function bilateralSettlement ({ self, privateKey, ledger, open, exchange, log }: BilateralComponents): SettlementMethod {
  const record = async (peer: string, settlement: Settlement, payload: Uint8Array, signatures: Record<string, Uint8Array>): Promise<SettlementRecord> => {
    const entry: SettlementRecord = {
      counterparty: peer,
      net: settlement.a === self ? settlement.aOwesB : -settlement.aOwesB,
      jobs: settlement.jobs,
      at: settlement.at,
      method: settlement.method,
      payload: Buffer.from(payload).toString('base64'),
      signatures: Object.fromEntries(Object.entries(signatures).map(([p, s]) => [p, Buffer.from(s).toString('base64')]))
    }
    await ledger.settle(entry)
    return entry
  }
  return {
    name: 'bilateral',
    async settle (peer) {
      const comparison = await exchange(peer)
      if (!comparison.agree) throw new StatementExchangeError(`the statements with ${peer} differ in ${comparison.differing.length} job(s); see floe billing statement ${peer}`)
      const { net, jobs } = await netOwed(ledger, peer)
      const settlement: Settlement = { version: 1, a: self, b: peer, aOwesB: net, jobs, method: 'bilateral', at: Date.now() }
      const payload = encodeSettlement(settlement)
      const signature = await signRecord(privateKey, SETTLEMENT_SIGNING_DOMAIN, payload)
      const signal = AbortSignal.timeout(30_000)
      const channel = await open(peer, signal)
      try {
        await channel.send(encodeBillingMessage({ type: 'settle', settlement: { payload, signature } }), { signal })
        const bytes = await channel.read({ signal })
        const answer = bytes == null ? null : decodeBillingAnswer(bytes)
        if (answer?.type !== 'settled') throw new StatementExchangeError(`${peer} did not sign the settlement${answer?.type === 'refused' ? `: ${answer.message}` : ''}`)
        if (!await signedBy(peer, SETTLEMENT_SIGNING_DOMAIN, payload, answer.signature)) throw new StatementExchangeError(`the settlement's countersignature is not ${peer}'s`)
        await channel.close().catch(() => {})
        log.info({ peer, net, jobs }, 'settled with a peer')
        return await record(peer, settlement, payload, { [self]: signature, [peer]: answer.signature })
      } catch (err: any) {
        channel.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
    },
    async countersign (peer, signed) {
      try {
        const settlement = decodeSettlement(signed.payload)
        if (settlement.a !== peer || settlement.b !== self) return { type: 'refused', message: 'the settlement is not between you and this node' }
        if (!await signedBy(peer, SETTLEMENT_SIGNING_DOMAIN, signed.payload, signed.signature)) return { type: 'refused', message: 'the settlement is not signed by you' }
        const { net } = await netOwed(ledger, peer)
        if (net !== -settlement.aOwesB) return { type: 'refused', message: `this ledger has ${formatCredits(-net)} owed by you net, not ${formatCredits(settlement.aOwesB)}` }
        const signature = await signRecord(privateKey, SETTLEMENT_SIGNING_DOMAIN, signed.payload)
        await record(peer, settlement, signed.payload, { [peer]: signed.signature, [self]: signature })
        return { type: 'settled', signature }
      } catch (err: any) {
        return { type: 'refused', message: err?.message ?? String(err) }
      }
    }
  }
}
