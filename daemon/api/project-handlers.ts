import type { Libp2p } from '@libp2p/interface'
import type { ResolvedRef } from '../datasets/ref.js'
import { exportProjectCar, importProjectCar } from '../projects/car.js'
import { InvalidProjectRequestError, ProjectSyncError } from '../projects/errors.js'
import { projectHistory } from '../projects/history.js'
import type { ProjectLog } from '../projects/project-log.js'
import type { RepairReport } from '../projects/repair.js'
import type { ProjectSync } from '../projects/sync.js'
import type { ApiHandlers } from './server.js'

export interface ProjectHandlerComponents {
  host: Pick<Libp2p, 'getConnections'>
  projects: ProjectLog
  sync: Pick<ProjectSync, 'pull'>
  resolveDataRef: (ref: string) => Promise<ResolvedRef>
  repairProjects: (options: { signal?: AbortSignal }) => Promise<RepairReport>
}

type ProjectRouteName = 'projectInit' | 'projectList' | 'projectShow' | 'projectLog' | 'projectMember' | 'projectNote' | 'projectAttach' | 'projectSync' | 'projectExport' | 'projectImport' | 'projectRepair'

/** The project routes' operations. */
export function projectHandlers ({ host, projects, sync, resolveDataRef, repairProjects }: ProjectHandlerComponents): Pick<ApiHandlers, ProjectRouteName> {
  return {
    projectInit: async ({ name }) => await projects.init(name),
    projectList: async () => ({ projects: await projects.list() }),
    projectShow: async ({ project }) => await projects.show(project),
    projectLog: async ({ project, limit }) => {
      const meta = await projects.resolve(project)
      return { project: meta.name, entries: await projectHistory(projects, meta.id, limit) }
    },
    projectMember: async ({ project, peer, action }) => {
      const meta = await projects.resolve(project)
      const { members, lastSlot } = await projects.membership(meta.id)
      if (action === 'add') {
        if (Object.hasOwn(members, peer)) throw new InvalidProjectRequestError(`${peer} is a member of ${meta.name} already`)
        await projects.write(meta.id, 'member.added', { peer, slot: lastSlot + 1 })
      } else {
        if (!Object.hasOwn(members, peer)) throw new InvalidProjectRequestError(`${peer} is not a member of ${meta.name}`)
        await projects.write(meta.id, 'member.removed', { peer })
      }
      return await projects.show(meta.id)
    },
    projectNote: async ({ project, text }) => ({ cid: (await projects.write((await projects.resolve(project)).id, 'note', { text })).cid.toString() }),
    projectAttach: async ({ project, dataset }) => {
      const meta = await projects.resolve(project)
      const resolved = await resolveDataRef(dataset)
      // another owner's shared version is attached under its shared name, OWNER/NAME
      const named = resolved.dataset ?? (resolved.record == null ? undefined : { ...resolved.record, name: `${resolved.record.owner}/${resolved.record.name}` })
      if (named == null) throw new InvalidProjectRequestError(`"${dataset}" is not a dataset held here (a bare CID is not attached: upload it with a name)`)
      const { name, version, cid } = named
      const appended = await projects.write(meta.id, 'dataset.attached', { name, version, cid })
      return { cid: appended.cid.toString(), name, version, datasetCid: cid }
    },
    projectSync: async ({ project }) => {
      const meta = await projects.resolve(project)
      const members = (await projects.membership(meta.id)).members
      const peers = [...new Set(host.getConnections().map(c => c.remotePeer.toString()))].filter(peer => Object.hasOwn(members, peer))
      const results = await Promise.allSettled(peers.map(async peer => await sync.pull(peer, meta.id)))
      let added = 0
      let refused = 0
      const failed: Array<{ peer: string, reason: string }> = []
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') {
          added += result.value.added
          refused += result.value.refused
        } else {
          failed.push({ peer: peers[i] as string, reason: result.reason?.message ?? String(result.reason) })
        }
      })
      if (peers.length > 0 && failed.length === peers.length) throw new ProjectSyncError(`no connected member could be pulled from: ${failed.map(f => `${f.peer}: ${f.reason}`).join('; ')}`)
      return { added, refused, peers: peers.length, failed }
    },
    projectExport: async ({ project, file }, { signal }) => {
      const meta = await projects.resolve(project)
      return { file, ...await exportProjectCar(projects, meta.id, file, { signal }) }
    },
    projectImport: async ({ file }, { signal }) => {
      const received = await importProjectCar(projects, file, { signal })
      return { added: received.added, held: received.held, refused: received.refused, projects: [...received.projects] }
    },
    projectRepair: async (_input, { signal }) => await repairProjects({ signal })
  }
}
