import { CID } from 'multiformats/cid'
import { decodeReceipt } from '../../protocol/jobs/receipt.js'
import type { Entry, EntryPayload } from '../../protocol/projects/entry.js'
import type { Logger } from '../log.js'
import type { EntitlementSource, GrantTable } from '../transfer/entitlement.js'
import type { Appended, ProjectLog } from './project-log.js'

/**
 * The content an entry names (by string: entries link only entries): a job's spec, code,
 * inputs, image and home; an output and logs; an attached dataset. What is not a CID is
 * skipped (the entry was checked, but only its form).
 */
export function namedContent (entry: Pick<Entry, 'type' | 'payload'>): CID[] {
  const texts: Array<string | null | undefined> = []
  if (entry.type === 'job.created') {
    const p = entry.payload as EntryPayload<'job.created'>
    texts.push(p.specCid, p.spec.code, ...p.spec.inputs.map(i => i.cid), ...p.inputs.map(i => i.cid), p.spec.image?.cid, p.spec.workspace?.home, p.reused?.outputCid, p.reused?.logsCid)
  } else if (entry.type === 'job.finished') {
    const p = entry.payload as EntryPayload<'job.finished'>
    try {
      const receipt = decodeReceipt(p.receipt.payload)
      texts.push(receipt.outputCid?.toString(), receipt.logsCid?.toString())
    } catch {
      // a receipt that does not decode was refused on ingest; nothing to share
    }
  } else if (entry.type === 'dataset.attached') {
    texts.push((entry.payload as EntryPayload<'dataset.attached'>).cid)
  }
  const found = new Map<string, CID>()
  for (const text of texts) {
    if (text == null) continue
    try {
      const cid = CID.parse(text)
      found.set(cid.toString(), cid)
    } catch {
      // not a CID: nothing to share
    }
  }
  return [...found.values()]
}

/** Why a root is shared with a project's members. */
export const projectGrantReason = (pid: string): string => `project:${pid}`

/**
 * Who may fetch a project's content from this node: its members (checked when asked, so a
 * member removed loses access at once). The log's entries are theirs as they are held here;
 * the content entries name is shared for the entries this node wrote only. An entry written
 * by another member is that member's claim: sharing what it names would let a member name a
 * CID of this node's (another project's dataset, say) in an entry and then fetch it.
 */
export function projectContentAccess ({ projects, grants, log }: { projects: Pick<ProjectLog, 'onAppended' | 'all' | 'membership' | 'entryMeta'>, grants: Pick<GrantTable, 'grant'>, log: Logger }) {
  let stop: (() => void) | undefined
  const share = async (appended: Appended): Promise<void> => {
    for (const cid of namedContent(appended.entry)) await grants.grant(cid, { project: appended.pid }, projectGrantReason(appended.pid))
  }
  const isMember = async (pid: string, peer: string): Promise<boolean> => Object.hasOwn((await projects.membership(pid)).members, peer)
  /** a project log entry, to a member of its project */
  const entries: EntitlementSource = async (root, peer) => {
    const text = root.toString()
    for (const project of await projects.all()) {
      if (await projects.entryMeta(project.id, text) != null && await isMember(project.id, peer)) return true
    }
    return false
  }
  return {
    isMember,
    entries,
    /** records the grants of each entry this node appends from now on */
    start (): void {
      stop ??= projects.onAppended(appended => {
        share(appended).catch((err: Error) => { log.warn({ project: appended.pid, cid: appended.cid.toString(), err: err.message }, 'could not share the content an entry names with the project\'s members') })
      })
    },
    stopListening (): void {
      stop?.()
      stop = undefined
    }
  }
}
