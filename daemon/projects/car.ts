import { CID } from 'multiformats/cid'
import { decodeEntry } from '../../protocol/projects/entry.js'
import { readCar, writeCar } from '../store/car.js'
import type { ProjectLog, Received } from './project-log.js'

/** `floe project export --car`: every entry of the project in this node's order, its heads as the roots. */
export async function exportProjectCar (log: ProjectLog, pid: string, file: string, options: { signal?: AbortSignal } = {}): Promise<{ entries: number, bytes: number }> {
  const roots = (await log.heads(pid)).map(h => CID.parse(h.cid))
  const written = await writeCar(file, roots, (async function * () {
    for await (const item of log.entriesAfter(pid, 0)) yield { cid: CID.parse(item.cid), bytes: item.bytes }
  })(), options)
  return { entries: written.blocks, bytes: written.bytes }
}

/**
 * `floe project import`: the CAR's blocks, each checked against its CID, then each entry
 * checked as if received, oldest clock first (so any block order works). Blocks that are not
 * entries are refused.
 */
export async function importProjectCar (log: ProjectLog, file: string, options: { signal?: AbortSignal } = {}): Promise<Received> {
  const car = await readCar(file, options)
  const entries: Array<{ cid: CID, bytes: Uint8Array, clock: number }> = []
  const refused: Received['refused'] = []
  for await (const block of car.blocks) {
    try {
      entries.push({ ...block, clock: decodeEntry(block.bytes).clock })
    } catch (err: any) {
      refused.push({ cid: block.cid.toString(), reason: err?.message ?? String(err) })
    }
  }
  entries.sort((a, b) => a.clock - b.clock || (a.cid.toString() < b.cid.toString() ? -1 : 1))
  const received = await log.receive(entries)
  return { ...received, refused: [...refused, ...received.refused] }
}
