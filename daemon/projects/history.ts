import { decodeEntry, type Entry, type EntryPayload } from '../../protocol/projects/entry.js'
import type { LogEntryView } from '../../protocol/projects/view.js'
import { displayCommand } from '../../protocol/format.js'
import type { ProjectLog } from './project-log.js'

/** One line for people about an entry. */
export function summarize (entry: Entry, jobNumber: (job: string) => number | undefined): string {
  const job = (id: string): string => `job ${jobNumber(id) ?? id}`
  switch (entry.type) {
    case 'project.created': {
      const p = entry.payload as EntryPayload<'project.created'>
      return `project ${p.owner}/${p.name} created`
    }
    case 'member.added': return `member ${(entry.payload as EntryPayload<'member.added'>).peer} added`
    case 'member.removed': return `member ${(entry.payload as EntryPayload<'member.removed'>).peer} removed`
    case 'job.created': {
      const p = entry.payload as EntryPayload<'job.created'>
      const what = p.reused != null ? `returned ${p.reused.from}'s output (same spec, deterministic)` : `created: ${displayCommand(p.spec.command)}`
      return `job ${p.number} ${what}${p.message !== '' ? ` — ${p.message}` : ''}`
    }
    case 'job.started': {
      const p = entry.payload as EntryPayload<'job.started'>
      return `${job(p.job)} started on ${p.provider}`
    }
    case 'job.finished': return `${job((entry.payload as EntryPayload<'job.finished'>).job)} finished`
    case 'job.stopped': return `${job((entry.payload as EntryPayload<'job.stopped'>).job)} stopped`
    case 'job.lost': {
      const p = entry.payload as EntryPayload<'job.lost'>
      return `${job(p.job)} lost on ${p.provider}${p.final ? '' : '; retried'}`
    }
    case 'job.disputed': {
      const p = entry.payload as EntryPayload<'job.disputed'>
      return `${job(p.job)} billing dispute with ${p.provider} (${p.kind} ${p.refusal}): ${p.reason}`
    }
    case 'job.deleted': return `${job((entry.payload as EntryPayload<'job.deleted'>).job)} deleted`
    case 'job.failed': return `${job((entry.payload as EntryPayload<'job.failed'>).job)} failed: ${(entry.payload as EntryPayload<'job.failed'>).reason ?? ''}`
    case 'dataset.attached': {
      const p = entry.payload as EntryPayload<'dataset.attached'>
      return `dataset ${p.name}:${p.version} attached (${p.cid})`
    }
    case 'note': return `note: ${(entry.payload as EntryPayload<'note'>).text}`
  }
}

/**
 * A project's history, newest first, in an order every member sees alike: by clock, then by
 * CID. `limit` entries at most.
 */
export async function projectHistory (log: ProjectLog, pid: string, limit: number): Promise<LogEntryView[]> {
  const entries: Array<{ cid: string, entry: Entry }> = []
  for await (const item of log.entriesAfter(pid, 0)) entries.push({ cid: item.cid, entry: decodeEntry(item.bytes) })
  const numbers = new Map<string, number>()
  for (const { entry } of entries) {
    if (entry.type === 'job.created') {
      const p = entry.payload as EntryPayload<'job.created'>
      numbers.set(p.job, p.number)
    }
  }
  entries.sort((a, b) => b.entry.clock - a.entry.clock || (a.cid < b.cid ? 1 : a.cid > b.cid ? -1 : 0))
  return entries.slice(0, limit).map(({ cid, entry }) => ({
    cid,
    clock: entry.clock,
    author: entry.author,
    at: new Date(entry.at).toISOString(),
    type: entry.type,
    summary: summarize(entry, id => numbers.get(id)),
    prev: entry.prev.map(String),
    payload: jsonPayload(entry.payload)
  }))
}

/** The payload as JSON: bytes (receipts) as base64. */
function jsonPayload (value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (Array.isArray(value)) return value.map(jsonPayload)
  if (value != null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonPayload(v)]))
  return value
}
