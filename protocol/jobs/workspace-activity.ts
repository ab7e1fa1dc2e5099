/**
 * A running workspace's idle clock and its "save home now" (both `/floe/job/1.3.0`, see
 * protocol/jobs/wire.ts):
 *
 * - the provider sends `activity { activeAt }` when the workspace's last terminal or port
 *   traffic moves (at most one a second), so its client can show when the idle stop comes
 *   (`activeAt` + the spec's `idleTimeoutSeconds`). The value is a provider's word, used for
 *   display only (never billing): admitActiveAt bounds it on receipt.
 * - the client sends `save-home`; the provider saves the home through the same path as its
 *   periodic saves and names it in `home-saved` with `requested: true`, or answers
 *   `save-refused` (not a running workspace, or asked again within HOME_SAVE_MIN_GAP_MS).
 */

/** A provider saves a workspace's home on request at most once in this long. */
export const HOME_SAVE_MIN_GAP_MS = 10_000
/** The provider sends `activity` when the last traffic moved by at least this much since the last one sent. */
export const ACTIVITY_MIN_GAP_MS = 1_000
/** An `activeAt` further ahead of the client's clock than this is dropped (a little ahead is clock skew: read as now). */
export const ACTIVITY_MAX_SKEW_MS = 5 * 60_000
/** How long the client waits for the home a requested save names. */
export const HOME_SAVE_WAIT_MS = 5 * 60_000

/**
 * The last-activity time a client keeps from a provider's `activity` (ms since the epoch),
 * or null to drop it: dropped when not a finite time, dated more than ACTIVITY_MAX_SKEW_MS
 * past `now`, or older than the value already kept (`previous`) or than the run's start
 * (`startedAt`); a value ahead of `now` within the skew reads as `now`. So a hostile
 * provider can at most show a countdown of the workspace's own idle timeout from now.
 */
export function admitActiveAt (previous: number | null, activeAt: number, now: number, startedAt = 0): number | null {
  if (!Number.isFinite(activeAt) || activeAt < 0) return null
  if (activeAt > now + ACTIVITY_MAX_SKEW_MS) return null
  const value = Math.min(activeAt, now)
  if (value < startedAt || (previous != null && value < previous)) return null
  return value
}

/** When a workspace last active at `lastActiveAt` stops for idleness. */
export function idleStopAt (lastActiveAt: number, idleTimeoutSeconds: number): number {
  return lastActiveAt + idleTimeoutSeconds * 1000
}
