import { CID } from 'multiformats/cid'
import type { LogLine } from '../../protocol/jobs/job.js'
import { HOME_SAVED } from '../../protocol/workspaces/tunnel.js'
import { freeSpaceBudget } from '../content/export.js'
import type { RequireDag } from '../content/require-dag.js'
import type { Logger } from '../log.js'
import type { GcGuard } from '../store/gc-guard.js'
import { pinReasons } from '../store/pin-reasons.js'
import type { PinSet } from '../store/pins.js'

export interface HomeKeeperComponents {
  pins: PinSet
  guard: GcGuard
  requireDag: RequireDag
  /** the block store's folder: a home is fetched within the free space of its file system */
  blocksPath: string
  log: Logger
}

/**
 * Workspaces' homes as their providers save them while they run: each is fetched here and
 * pinned under `workspace-home:REF` (the previous save let go), so a restart can start from it
 * even if that provider is gone.
 */
export function homeKeeper (components: HomeKeeperComponents) {
  return {
    savedInLine: homeSavedInLine,

    /** Keeps `home` for the workspace `ref` in the background (a failure is logged: the next save tries again). */
    keep (ref: string, home: CID, previous: CID | null): void {
      void components.guard.shared(async () => {
        await pinReasons.workspaceHome(ref).replace(components.pins, home, previous)
        await components.requireDag(home, { maxBytes: (await freeSpaceBudget(components.blocksPath)).maxBytes })
      }).catch((err: Error) => { components.log.warn({ ref, home: home.toString(), err: err.message }, 'could not keep the workspace home here') })
    }
  }
}

export type HomeKeeper = ReturnType<typeof homeKeeper>

/**
 * The home a `home saved: CID (N bytes)` system log line names: how providers that do not
 * send the `home-saved` message yet (and every provider on /floe/job/1.0.0) tell it.
 */
export function homeSavedInLine (line: LogLine): CID | undefined {
  if (line.stream !== 'system' || !line.line.startsWith(HOME_SAVED)) return undefined
  try {
    return CID.parse(line.line.slice(HOME_SAVED.length).trim().split(' ')[0] ?? '')
  } catch {
    // a job can print anything, but not a system line: a provider's line that names no CID is no home
    return undefined
  }
}
