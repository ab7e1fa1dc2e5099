/** Docker's timestamps: RFC 3339 with up to nine fraction digits, e.g. `2026-01-02T03:04:05.123456789Z`. */
const RFC3339_NANO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/

const NS_PER_MS = 1_000_000n
const NS_PER_S = 1_000_000_000n

/**
 * Nanoseconds since the epoch, or undefined when the text is not such a timestamp. Kept in
 * nanoseconds (Date keeps milliseconds) because log records are told apart by their exact time.
 * Docker's "never" (`0001-01-01T00:00:00Z`) parses to a negative value.
 */
export function parseDockerTime (text: string): bigint | undefined {
  const match = RFC3339_NANO.exec(text)
  if (match == null) return undefined
  const seconds = Date.parse(`${match[1]}${match[3]}`)
  if (Number.isNaN(seconds)) return undefined
  const fraction = BigInt((match[2] ?? '').padEnd(9, '0'))
  return BigInt(seconds) * NS_PER_MS + fraction
}

/** Milliseconds since the epoch of a Docker timestamp; 0 for Docker's "never" or an unreadable value. */
export function dockerTimeToMs (text: string): number {
  const ns = parseDockerTime(text)
  return ns == null || ns <= 0n ? 0 : nsToMs(ns)
}

export function nsToMs (ns: bigint): number {
  return Number(ns / NS_PER_MS)
}

export function msToNs (ms: number): bigint {
  return BigInt(Math.floor(ms)) * NS_PER_MS
}

/** The `since` query value of the logs API, `seconds.nanoseconds`, which the engine reads exactly. */
export function toSinceParam (ns: bigint): string {
  const clamped = ns < 0n ? 0n : ns
  return `${clamped / NS_PER_S}.${(clamped % NS_PER_S).toString().padStart(9, '0')}`
}
