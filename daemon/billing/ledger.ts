import type { ClassicLevel } from 'classic-level'
import type { SignedDoc, Voucher } from '../../protocol/billing/metering.js'
import { takeTurns } from '../turns.js'

/** A job in the ledger: this node's side of it, and the highest voucher that counts. */
export interface LedgerRow {
  jobId: string
  /** this node's part: it paid (client) or was paid (provider) */
  role: 'client' | 'provider'
  counterparty: string
  leaseId: string
  /** the project and job ref (client side; a provider does not see them) */
  projectId: string | null
  project: string | null
  ref: string | null
  pricePerHour: number
  /** when the row was opened (ms): spend is grouped by its UTC day */
  startedAt: number
  /** micro-credits owed for the job: the highest voucher's amount */
  amount: number
  voucherSeq: number
  /** the highest voucher as signed (base64), the evidence both sides hold */
  voucher: { payload: string, signature: string } | null
  /** the client answered the receipt: nothing more will be promised */
  final: boolean
  /** the last usage statement taken (client) or sent (provider), and its running time */
  statementSeq: number
  statementRunningMs: number
  /** the statement interval the provider states (ms) */
  intervalMs: number | null
  /** micro-credits the receipt states, once there is one */
  receiptCost: number | null
  /** why the receipt or a statement was disputed, when it was */
  disputed: string | null
  updatedAt: number
}

/** A statement, voucher or receipt refused from a counterparty: counted against it. */
export interface Strike {
  peer: string
  jobId: string | null
  kind: 'statement' | 'voucher' | 'receipt' | 'statement-exchange'
  refusal: string
  message: string
  at: number
}

/** Two nodes' signatures over the net balance between them at a statement both agreed on. */
export interface SettlementRecord {
  counterparty: string
  /** micro-credits this node paid the counterparty outside floe (negative: it was paid) */
  net: number
  jobs: number
  at: number
  method: string
  /** the settlement as both signed it (base64) */
  payload: string
  signatures: { [peer: string]: string }
}

type Index = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'values' | 'keys' | 'batch'>

/**
 * Which row: a job as agreed with one counterparty under one lease. A job retried on another
 * provider (or on the same one again) is a new lease with its own statements and vouchers, so
 * it gets a row of its own: nothing of the first provider's counts for the second.
 */
export type RowKey = Pick<LedgerRow, 'jobId' | 'counterparty' | 'leaseId'>

const JOB = 'billing-job!'
const STRIKE = 'billing-strike!'
const SETTLEMENT = 'billing-settlement!'

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/**
 * The per-counterparty ledger, in the index: `billing-job!<jobId>!<counterparty>!<leaseId>` →
 * the job's row for that lease (one put,
 * synced: a crash leaves the row before or after a voucher, never half of it);
 * `billing-strike!<peer>!<at>` → a refused document; `billing-settlement!<peer>!<at>` → a
 * settlement both signed. A voucher is applied only when its seq is past the row's, so the
 * same voucher heard twice (a reattach, a statement exchange after a crash) counts once, and
 * what a job is owed is always its highest voucher: nothing counted twice, nothing lost once
 * written. Writes take turns.
 */
export function billingLedger (index: Index) {
  const turns = takeTurns()
  const keyOf = (row: RowKey): string => `${JOB}${row.jobId}!${row.counterparty}!${row.leaseId}`
  // Rows written before leases had rows of their own sit under `billing-job!<jobId>`: moved once, on first use.
  let moving: Promise<void> | undefined
  const moved = async (): Promise<void> => {
    await (moving ??= (async () => {
      const old: string[] = []
      for await (const key of index.keys({ gte: JOB, lt: JOB + '\xff' })) if (!key.slice(JOB.length).includes('!')) old.push(key)
      for (const key of old) {
        const value = await index.get(key)
        if (value != null) await index.batch([{ type: 'put', key: keyOf(JSON.parse(value) as LedgerRow), value }, { type: 'del', key }], { sync: true })
      }
    })())
  }
  const get = async (key: RowKey): Promise<LedgerRow | undefined> => {
    await moved()
    const value = await index.get(keyOf(key))
    return value == null ? undefined : JSON.parse(value) as LedgerRow
  }
  const put = async (row: LedgerRow): Promise<void> => {
    row.updatedAt = Date.now()
    await index.put(keyOf(row), JSON.stringify(row), { sync: true })
  }

  return {
    get,
    /** Opens the row of the job's lease unless it has one; returns the row as it is. */
    async open (base: Pick<LedgerRow, 'jobId' | 'role' | 'counterparty' | 'leaseId' | 'pricePerHour'> & Partial<LedgerRow>): Promise<LedgerRow> {
      return await turns(async () => {
        const held = await get(base)
        if (held != null) return held
        const row: LedgerRow = {
          projectId: null, project: null, ref: null, startedAt: Date.now(), amount: 0, voucherSeq: 0, voucher: null, final: false,
          statementSeq: 0, statementRunningMs: 0, intervalMs: null, receiptCost: null, disputed: null, updatedAt: 0, ...base
        }
        await put(row)
        return row
      })
    },
    /** Changes a row (statement seq, receipt cost, a dispute); not the amount, which only vouchers set. */
    async update (key: RowKey, change: (row: LedgerRow) => void): Promise<LedgerRow | undefined> {
      return await turns(async () => {
        const row = await get(key)
        if (row == null) return undefined
        const { amount, voucherSeq, voucher } = row
        change(row)
        Object.assign(row, { amount, voucherSeq, voucher })
        await put(row)
        return row
      })
    },
    /**
     * Counts a voucher (already checked) for its job: true when it is new (its seq past the
     * row's), false when the row has it or a later one already. The row is opened from the
     * voucher when there is none (a statement exchange may bring a job this node lost track of).
     */
    async applyVoucher (voucher: Voucher, signed: SignedDoc, self: string): Promise<boolean> {
      return await turns(async () => {
        const role = voucher.client === self ? 'client' : 'provider'
        const counterparty = role === 'client' ? voucher.provider : voucher.client
        const row = await get({ jobId: voucher.jobId, counterparty, leaseId: voucher.leaseId }) ?? {
          jobId: voucher.jobId, role, counterparty, leaseId: voucher.leaseId,
          projectId: null, project: null, ref: null, pricePerHour: 0, startedAt: voucher.at, amount: 0, voucherSeq: 0, voucher: null, final: false,
          statementSeq: 0, statementRunningMs: 0, intervalMs: null, receiptCost: null, disputed: null, updatedAt: 0
        } satisfies LedgerRow
        if (voucher.seq <= row.voucherSeq || voucher.amount < row.amount) return false
        row.amount = voucher.amount
        row.voucherSeq = voucher.seq
        row.voucher = { payload: b64(signed.payload), signature: b64(signed.signature) }
        row.final = row.final || voucher.final
        await put(row)
        return true
      })
    },
    async * rows (): AsyncGenerator<LedgerRow> {
      await moved()
      for await (const value of index.values({ gte: JOB, lt: JOB + '\xff' })) yield JSON.parse(value) as LedgerRow
    },
    async strike (strike: Strike): Promise<void> {
      await index.put(`${STRIKE}${strike.peer}!${String(strike.at).padStart(15, '0')}!${Math.random().toString(36).slice(2, 8)}`, JSON.stringify(strike), { sync: true })
    },
    async strikes (peer?: string): Promise<Strike[]> {
      const from = peer == null ? STRIKE : `${STRIKE}${peer}!`
      const all: Strike[] = []
      for await (const value of index.values({ gte: from, lt: from + '\xff' })) all.push(JSON.parse(value) as Strike)
      return all
    },
    async settle (record: SettlementRecord): Promise<void> {
      await index.put(`${SETTLEMENT}${record.counterparty}!${String(record.at).padStart(15, '0')}`, JSON.stringify(record), { sync: true })
    },
    async settlements (peer?: string): Promise<SettlementRecord[]> {
      const from = peer == null ? SETTLEMENT : `${SETTLEMENT}${peer}!`
      const all: SettlementRecord[] = []
      for await (const value of index.values({ gte: from, lt: from + '\xff' })) all.push(JSON.parse(value) as SettlementRecord)
      return all
    }
  }
}

export type BillingLedger = ReturnType<typeof billingLedger>
