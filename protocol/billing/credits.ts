import { z } from 'zod'

/**
 * floe's unit of account is the credit, counted in whole micro-credits (a millionth): every
 * amount that is added, compared or signed is an integer, never a binary float. JavaScript
 * numbers hold integers exactly up to 2^53, i.e. 9 × 10^9 credits, far past any ledger here;
 * the one product that could pass it (price × milliseconds) is taken in bigint. Prices stay
 * as offers state them (credits per hour, a decimal with at most 6 places) and are turned
 * into micro-credits per hour once.
 */
export const MICRO = 1_000_000
const MS_PER_HOUR = 3_600_000n

/** A whole, non-negative number of micro-credits. */
export const Micro = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
export type Micro = z.infer<typeof Micro>

/** A price in credits per hour as micro-credits per hour (offers state at most 6 decimals). */
export function microPerHour (pricePerHour: number): number {
  return Math.round(pricePerHour * MICRO)
}

/**
 * What `ms` of running time costs at `pricePerHour`: micro-credits, rounded half up. Both
 * sides compute it this way, so a usage statement's cost is checked to the micro-credit.
 */
export function costFor (pricePerHour: number, ms: number): number {
  const product = BigInt(microPerHour(pricePerHour)) * BigInt(Math.max(0, Math.floor(ms)))
  return Number((product + MS_PER_HOUR / 2n) / MS_PER_HOUR)
}

/** The micro-credits a receipt's cost (credits, rounded to 6 places by its provider) states. */
export function microOf (credits: number): number {
  return Math.round(credits * MICRO)
}

/** `12.5`, `0.000033`: micro-credits as a decimal, no trailing zeros. */
export function formatCredits (micro: number): string {
  const negative = micro < 0
  const abs = Math.abs(micro)
  const whole = Math.floor(abs / MICRO)
  const fraction = String(abs % MICRO).padStart(6, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`
}

/** The credits as a number, for JSON views and charts (exact to 6 places as decimal text). */
export function creditsOf (micro: number): number {
  return Number(formatCredits(micro))
}

/** A credits value a person typed (`50`, `0.25`): whole micro-credits, or an error naming the value. */
export function parseCredits (text: string): number {
  const match = /^\s*(\d{1,12})(?:\.(\d{1,6}))?\s*$/.exec(text)
  if (match == null) throw new RangeError(`${JSON.stringify(text)} is not an amount of credits: use a decimal number with at most 6 places, e.g. 50 or 0.25`)
  return Number(match[1]) * MICRO + Number((match[2] ?? '').padEnd(6, '0'))
}

/** The period a budget renews over: each UTC day, each UTC month, or never. */
export const BudgetPeriod = z.enum(['day', 'month', 'total'])
export type BudgetPeriod = z.infer<typeof BudgetPeriod>

/** When the current period of a budget began (ms since the epoch, UTC). */
export function periodStart (per: BudgetPeriod, now: number): number {
  const d = new Date(now)
  if (per === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  if (per === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  return 0
}

/** `2025-03-14`: the UTC day of a time, as spend is grouped by. */
export function dayOf (at: number): string {
  return new Date(at).toISOString().slice(0, 10)
}
