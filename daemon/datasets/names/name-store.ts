import type { ClassicLevel } from 'classic-level'
import type { NameRecord, SignedNameRecord } from '../../../protocol/datasets/name-record.js'
import { NameConflictError } from '../errors.js'

/**
 * Signed dataset name records held here: this node's own (its public versions) and other
 * owners' (resolved, checked, cached). `dsname!OWNER!NAME!VERSION(10 digits)` → the record
 * and its signature as JSON. `dsname-seq!NAME` keeps the highest version this node ever
 * signed for NAME, so a name removed and uploaded again never reuses a version number.
 */
export type NameIndex = Pick<ClassicLevel<string, string>, 'get' | 'put' | 'del' | 'iterator'>

export interface StoredName {
  record: NameRecord
  signed: SignedNameRecord
}

const PREFIX = 'dsname!'
const SEQ = 'dsname-seq!'

function key (owner: string, name: string, version: number): string {
  return `${PREFIX}${owner}!${name}!${String(version).padStart(10, '0')}`
}

export function nameStore (index: NameIndex) {
  const get = async (owner: string, name: string, version: number): Promise<StoredName | undefined> => {
    const value = await index.get(key(owner, name, version))
    return value == null ? undefined : JSON.parse(value) as StoredName
  }
  return {
    get,
    /** newest first, at most `limit` */
    async list (owner: string, name: string, limit = Infinity): Promise<StoredName[]> {
      const prefix = `${PREFIX}${owner}!${name}!`
      const out: StoredName[] = []
      for await (const [, value] of index.iterator({ gte: prefix, lt: `${prefix}\xff`, reverse: true, limit: Number.isFinite(limit) ? limit : -1 })) out.push(JSON.parse(value) as StoredName)
      return out
    },
    /**
     * Keeps a checked record. One version of a name is one CID for ever: a record that
     * contradicts one held is refused (NameConflictError), and nothing changes.
     */
    async put (stored: StoredName): Promise<'added' | 'held'> {
      const { owner, name, version, cid } = stored.record
      const held = await get(owner, name, version)
      if (held != null) {
        if (held.record.cid === cid) return 'held'
        throw new NameConflictError(`${owner}/${name}:${version} is already known here as ${held.record.cid}, and a record now says ${cid}: a version names one content for ever; the new record was refused`)
      }
      await index.put(key(owner, name, version), JSON.stringify(stored), { sync: true })
      return 'added'
    },
    async remove (owner: string, name: string, version: number): Promise<void> {
      await index.del(key(owner, name, version), { sync: true })
    },
    async highestSigned (name: string): Promise<number> {
      return Number(await index.get(`${SEQ}${name}`) ?? 0)
    },
    async noteSigned (name: string, version: number): Promise<void> {
      if (version > Number(await index.get(`${SEQ}${name}`) ?? 0)) await index.put(`${SEQ}${name}`, String(version), { sync: true })
    }
  }
}
export type NameStore = ReturnType<typeof nameStore>
