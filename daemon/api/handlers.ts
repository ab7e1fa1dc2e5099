import type { Libp2p } from '@libp2p/interface'
import { FLOE_AGENT, FLOE_VERSION } from '../../protocol/version.js'
import type { datasetService } from '../datasets/index.js'
import { connectPeer, listPeers } from '../p2p/index.js'
import type { repoService } from '../store/repo.js'
import type { ApiHandlers } from './server.js'

export interface ApiHandlerComponents {
  host: Pick<Libp2p, 'peerId' | 'getMultiaddrs' | 'getProtocols' | 'getConnections' | 'dial'>
  home: string
  apiUrl: () => string
  startedAt: Date
  datasets: ReturnType<typeof datasetService>
  repo: ReturnType<typeof repoService>
}

/** Maps each declared route to the operation that serves it. */
export function apiHandlers ({ host, home, apiUrl, startedAt, datasets, repo }: ApiHandlerComponents): ApiHandlers {
  return {
    id: async () => ({
      peerId: host.peerId.toString(),
      addresses: host.getMultiaddrs().map(ma => ma.toString()),
      protocols: host.getProtocols(),
      agentVersion: FLOE_AGENT,
      version: FLOE_VERSION,
      apiUrl: apiUrl(),
      home,
      startedAt: startedAt.toISOString()
    }),
    peers: async () => ({ peers: listPeers(host) }),
    connect: async ({ addr }, { signal }) => await connectPeer(host, addr, { signal }),

    datasetUpload: async (input, { signal, progress }) => await datasets.upload(input, { signal, onProgress: progress }),
    datasetList: async ({ name }) => ({ datasets: await datasets.list(name) }),
    datasetGet: async ({ ref, dest, transport }, { signal, progress }) => ({ ...await datasets.get(ref, dest, { transport, signal, onProgress: progress }), dest }),
    datasetRemove: async ({ ref }) => ({ removed: await datasets.remove(ref) }),

    repoStat: async (_input, { signal }) => await repo.stat({ signal }),
    repoGc: async (_input, { signal }) => await repo.gc({ signal }),
    carExport: async ({ ref, file }, { signal, progress }) => {
      const root = await datasets.resolve(ref)
      const result = await repo.exportCar(root, file, { signal, onProgress: p => { progress({ phase: 'export' as const, ...p }) } })
      return { root: root.toString(), file, ...result }
    },
    carImport: async ({ file }, { signal, progress }) => {
      const result = await repo.importCar(file, { signal, onProgress: p => { progress({ phase: 'import' as const, ...p }) } })
      return { roots: result.roots.map(String), blocks: result.blocks, bytes: result.bytes }
    }
  }
}
