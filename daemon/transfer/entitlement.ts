import type { ClassicLevel } from 'classic-level'
import type { CID } from 'multiformats/cid'
import { NotEntitledError } from '../../protocol/transfer/dag.js'

/**
 * Who a grant lets fetch a DAG: anyone (public datasets), one peer (a job's provider, for the
 * job's code, inputs, home and image while it runs), or the members of a project (what this
 * node's entries in that project name), checked against the membership when asked, so a
 * member removed loses access at once.
 */
export type Grantee = { public: true } | { peer: string } | { project: string }

/**
 * The roots this node lets other peers fetch, and why: one index key per (root, grantee,
 * reason), so two reasons to share a root (two jobs on one provider) never overwrite each
 * other, and revoking one reason (a job ended) leaves the others. A second key per grant,
 * by reason first, makes revoking every grant of a reason one range read.
 */
export interface GrantTable {
  grant(root: CID, to: Grantee, reason: string): Promise<void>
  /** every grant made for `reason` */
  revoke(reason: string): Promise<void>
  /** the grantees of a root (each once) */
  grantees(root: CID): Promise<Grantee[]>
  /** the roots granted to `to` for `reason` */
  roots(reason: string): Promise<Array<{ root: string, to: Grantee }>>
}

type Index = Pick<ClassicLevel<string, string>, 'batch' | 'keys'>

const BY_ROOT = 'grant!'
const BY_REASON = 'grant-reason!'

function granteeKey (to: Grantee): string {
  if ('public' in to) return '*'
  if ('peer' in to) return `peer:${to.peer}`
  return `project:${to.project}`
}

function parseGrantee (key: string): Grantee {
  if (key === '*') return { public: true }
  if (key.startsWith('peer:')) return { peer: key.slice('peer:'.length) }
  return { project: key.slice('project:'.length) }
}

/** Peer ids and CIDs hold no `!`; a reason may, so it goes last in the by-root key and is split off from the end in the other. */
function checkPart (text: string, what: string): string {
  if (text.length === 0 || text.includes('!')) throw new RangeError(`a grant's ${what} must be non-empty and hold no "!": ${text}`)
  return text
}

export function grantTable (index: Index): GrantTable {
  return {
    async grant (root, to, reason) {
      const r = checkPart(root.toString(), 'root')
      const g = checkPart(granteeKey(to), 'grantee')
      await index.batch([
        { type: 'put', key: `${BY_ROOT}${r}!${g}!${reason}`, value: '' },
        { type: 'put', key: `${BY_REASON}${reason}!${r}!${g}`, value: '' }
      ], { sync: true })
    },
    async revoke (reason) {
      const ops: Array<{ type: 'del', key: string }> = []
      const prefix = `${BY_REASON}${reason}!`
      for await (const key of index.keys({ gt: prefix, lt: prefix + '\xff' })) {
        const rest = key.slice(prefix.length)
        const split = rest.indexOf('!')
        if (split < 0) continue
        ops.push({ type: 'del', key }, { type: 'del', key: `${BY_ROOT}${rest.slice(0, split)}!${rest.slice(split + 1)}!${reason}` })
      }
      if (ops.length > 0) await index.batch(ops, { sync: true })
    },
    async grantees (root) {
      const prefix = `${BY_ROOT}${root.toString()}!`
      const found = new Map<string, Grantee>()
      for await (const key of index.keys({ gt: prefix, lt: prefix + '\xff' })) {
        const rest = key.slice(prefix.length)
        const g = rest.slice(0, rest.indexOf('!'))
        if (!found.has(g)) found.set(g, parseGrantee(g))
      }
      return [...found.values()]
    },
    async roots (reason) {
      const prefix = `${BY_REASON}${reason}!`
      const found: Array<{ root: string, to: Grantee }> = []
      for await (const key of index.keys({ gt: prefix, lt: prefix + '\xff' })) {
        const rest = key.slice(prefix.length)
        const split = rest.indexOf('!')
        if (split >= 0) found.push({ root: rest.slice(0, split), to: parseGrantee(rest.slice(split + 1)) })
      }
      return found
    }
  }
}

/** Another way a peer comes to be entitled to a root, known elsewhere (a project's entries, a provider's jobs). */
export type EntitlementSource = (root: CID, peer: string) => Promise<boolean> | boolean

export interface EntitlementComponents {
  grants: Pick<GrantTable, 'grantees'>
  /** whether `peer` is a member of `project` now */
  isMember: (project: string, peer: string) => Promise<boolean>
  /** asked in turn after the grants */
  sources?: EntitlementSource[]
}

/** Asked by a sender, per request, before it serves anything under a root. */
export interface Entitlement {
  /** resolves when `peer` may fetch the DAG under `root`; throws NotEntitledError otherwise */
  check(root: CID, peer: string): Promise<void>
}

/**
 * The one answer to "may this peer have this DAG?". Only the root is checked: the sender then
 * serves only blocks reachable from it. The refusal is the same whether the root is held or
 * not, so a stranger cannot probe what this node holds.
 */
export function entitlement ({ grants, isMember, sources = [] }: EntitlementComponents): Entitlement {
  const entitled = async (root: CID, peer: string): Promise<boolean> => {
    for (const to of await grants.grantees(root)) {
      if ('public' in to) return true
      if ('peer' in to && to.peer === peer) return true
      if ('project' in to && await isMember(to.project, peer)) return true
    }
    for (const source of sources) if (await source(root, peer)) return true
    return false
  }
  return {
    async check (root, peer) {
      if (!await entitled(root, peer)) {
        throw new NotEntitledError(`${peer} is not entitled to ${root.toString()} here: blocks go only to a project's members, a job's provider or client, or anyone for a public dataset`)
      }
    }
  }
}
