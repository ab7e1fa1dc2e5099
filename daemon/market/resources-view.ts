import type { ResourcesView } from '../../protocol/market/resources.js'
import type { Resources } from './resources/index.js'

/** The measured resources as the API reports them. */
export function resourcesView (resources: Resources): ResourcesView {
  const docker = resources.docker
  return {
    cpu: { model: resources.cpu.model, cores: resources.cpu.cores },
    memory: { totalBytes: resources.memory.totalBytes, availableBytes: resources.memory.availableBytes },
    disk: { path: resources.disk.path, freeBytes: resources.disk.freeBytes, totalBytes: resources.disk.totalBytes },
    gpus: resources.gpu.gpus.map(g => ({ index: g.index, uuid: g.uuid, model: g.model, memoryBytes: g.memoryBytes, driverVersion: g.driverVersion, cudaVersion: g.cudaVersion ?? null })),
    gpuError: resources.gpu.error ?? null,
    docker: {
      available: docker.available,
      version: docker.available ? docker.version : null,
      error: docker.available ? null : docker.error,
      environments: docker.environments.map(e => ({ name: e.name, image: e.image }))
    }
  }
}
