import type { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'

/**
 * Roots kept by `floe gc`, each with the reasons it is kept (`dataset:mnist:3`,
 * `output:alice/mnist/7`, …); a root goes when its last reason does. One index key per
 * (root, reason), so concurrent pins never overwrite each other.
 */
export interface PinSet {
  add(cid: CID, reason: string): Promise<void>
  remove(cid: CID, reason: string): Promise<void>
  roots(): AsyncGenerator<{ cid: CID, reasons: string[] }>
}

const PREFIX = 'pin!'

export function pinKey (cid: CID, reason: string): string {
  return `${PREFIX}${cid.toString()}!${reason}`
}

export function pinSet (index: Pick<ClassicLevel<string, string>, 'put' | 'del' | 'keys'>): PinSet {
  const key = pinKey
  return {
    async add (cid, reason) {
      await index.put(key(cid, reason), '', { sync: true })
    },
    async remove (cid, reason) {
      await index.del(key(cid, reason), { sync: true })
    },
    async * roots () {
      let current: { cid: CID, reasons: string[] } | undefined
      for await (const k of index.keys({ gte: PREFIX, lt: PREFIX + '\xff' })) {
        const rest = k.slice(PREFIX.length)
        const split = rest.indexOf('!')
        const cidText = rest.slice(0, split)
        const reason = rest.slice(split + 1)
        if (current?.cid.toString() !== cidText) {
          if (current != null) yield current
          current = { cid: CID.parse(cidText), reasons: [] }
        }
        current.reasons.push(reason)
      }
      if (current != null) yield current
    }
  }
}
