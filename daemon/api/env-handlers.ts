import type { EnvironmentView } from '../../protocol/environments/environment.js'
import type { EnvironmentService } from '../environments/index.js'
import type { EnvironmentRecord } from '../environments/records.js'
import type { ApiHandlers } from './server.js'

export interface EnvHandlerComponents {
  environments: EnvironmentService
}

type EnvRouteName = 'envList' | 'envPublish' | 'envPull' | 'envBuild' | 'envRemove'

/** The environment routes' operations. */
export function envHandlers ({ environments }: EnvHandlerComponents): Pick<ApiHandlers, EnvRouteName> {
  /** A record as `env ls` shows it (the listing also says whether Docker holds it now). */
  const view = async (record: EnvironmentRecord): Promise<EnvironmentView> => {
    const listed = (await environments.list()).find(e => e.name === record.name && e.imageId === record.imageId && e.origin === record.origin)
    return listed ?? {
      name: record.name, cid: record.cid, imageId: record.imageId, bytes: record.bytes, layers: record.layers,
      accelerator: record.accelerator, description: record.description, origin: record.origin,
      held: false, image: null, createdAt: new Date(record.createdAt).toISOString(), lastUsedAt: null,
      buildSeconds: record.buildMs != null ? Math.round(record.buildMs / 100) / 10 : null
    }
  }
  return {
    envList: async () => ({ environments: await environments.list() }),
    envPublish: async ({ image, file, name }, { signal, progress }) => await view(await environments.publish({ image, file, name }, { signal, onProgress: progress })),
    envPull: async ({ image, name }, { signal, progress }) => await view(await environments.pull({ image, name }, { signal, onProgress: progress })),
    envBuild: async ({ name, from, apt, file, recipe }, { signal, progress }) => await view(recipe != null
      ? await environments.buildRecipe(recipe, { signal, onProgress: progress })
      : await environments.build({ name: name ?? '', from: from ?? '', apt, file }, { signal, onProgress: progress })),
    envRemove: async ({ name }) => {
      const removed = await environments.remove(name)
      return { removed: removed.name, cid: removed.cid }
    }
  }
}
