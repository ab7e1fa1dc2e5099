import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { ENVIRONMENT_LABEL, RECIPES, type EnvironmentView, type RecipeName } from '../../protocol/environments/environment.js'
import type { JobImage } from '../../protocol/jobs/spec.js'
import type { Logger } from '../log.js'
import { buildEnvironment, type BuildRequest } from './build.js'
import { environmentTag, fetchedTag, inspectImage, removeImage } from './docker-images.js'
import { handInstalledTag } from './installed.js'
import { EnvironmentNotFoundError } from './errors.js'
import { imageMetadata } from './image-dag.js'
import { loadImageDag } from './load.js'
import { publishImage, publishTarFile, type PublishComponents, type PublishOptions } from './publish.js'
import { pullEnvironment } from './pull.js'
import { deriveEnvironment, type Dependencies, type PipSettings } from './requirements.js'
import { buildRecipe, cachedRecipeImage, RECIPE_DESCRIPTIONS } from './recipes.js'
import { pinReasons } from '../store/pin-reasons.js'
import { environmentRecords, type EnvironmentIndex, type EnvironmentRecord } from './records.js'

/** What publishing needs, less the records (made here from `index`), and the rest. */
export interface EnvironmentServiceComponents extends Omit<PublishComponents, 'records'> {
  index: EnvironmentIndex
  /** the daemon's home */
  home: string
  /** where pip finds packages for derived environments (config.json `pip`) */
  pip?: PipSettings
  /** the environments held changed: the offer should say so */
  onChange: () => void
  log: Logger
}

/**
 * Environments on this node: those it published or built (records name → image DAG), those
 * it fetched for jobs as a provider (the cache, by image: they name nothing), and images
 * installed by hand as environments in its Docker (installed.ts). Publishing, building and recipes; the image a job in a named environment carries.
 */
export function environmentService (components: EnvironmentServiceComponents) {
  const records = environmentRecords(components.index)
  const { log } = components

  /** Docker's images labelled as environments: id → name, tags, size, labels. */
  const labelledImages = async (): Promise<Array<{ id: string, name: string, tags: string[], size: number, labels: Record<string, string> }>> => {
    const docker = await components.docker()
    const images = await docker.listImages({ filters: { label: [ENVIRONMENT_LABEL] } })
    return images.flatMap(image => {
      const name = image.Labels?.[ENVIRONMENT_LABEL]?.trim()
      if (name == null || name === '') return []
      return [{ id: image.Id, name, tags: (image.RepoTags ?? []).filter(t => t !== '<none>:<none>').sort(), size: image.Size, labels: image.Labels ?? {} }]
    })
  }

  /**
   * The image id an environment name runs as here, loading a published one from its blocks
   * when Docker lacks it. Only what the owner installed counts (installed.ts): an image a job
   * brought, or another daemon on the same engine loaded, is never what a name means.
   */
  const resolveBase = async (name: string, options: PublishOptions): Promise<string> => {
    const docker = await components.docker()
    const record = await records.get(name)
    if (record != null) {
      if (await inspectImage(docker, record.imageId) != null) return record.imageId
      options.onProgress?.({ phase: 'load', bytes: 0, totalBytes: record.bytes, message: `loading ${name} from its blocks` })
      return (await loadImageDag(docker, components.blockstore, CID.parse(record.cid), { tag: id => environmentTag(name, id), expectId: record.imageId, signal: options.signal })).image.id
    }
    const local = (await labelledImages()).filter(image => image.name === name && handInstalledTag(name, image.tags) != null)
      .sort((a, b) => (handInstalledTag(name, a.tags) ?? '') < (handInstalledTag(name, b.tags) ?? '') ? -1 : 1)[0]
    if (local != null) return local.id
    throw new EnvironmentNotFoundError(`unknown environment "${name}": this node neither published nor built one by that name, and Docker holds no image installed as it (tagged …/${name} and labelled ${ENVIRONMENT_LABEL}=${name}; floe env ls)`)
  }

  const recipeComponents = {
    ...components,
    records,
    resolveBase,
    workRoot: join(components.home, 'environments'),
    holds: async (name: string) => {
      try {
        await resolveBase(name, {})
        return true
      } catch (err: any) {
        if (err?.name === 'EnvironmentNotFoundError') return false
        throw err
      }
    }
  }

  const changed = <T>(result: T): T => {
    components.onChange()
    return result
  }
  /** Runs what makes an environment, and records how long it took with its record. */
  const timed = async (make: () => Promise<EnvironmentRecord>): Promise<EnvironmentRecord> => {
    const started = Date.now()
    const record = await make()
    const withTime = { ...record, buildMs: Date.now() - started }
    await records.put(withTime)
    return withTime
  }

  return {
    records,

    /** Every environment this node knows: published and built ones, fetched ones, and labelled images never published. */
    async list (): Promise<EnvironmentView[]> {
      const docker = await components.docker()
      // without Docker the records are still listed, as not held
      let dockerUp = true
      const images = await labelledImages().catch((err: Error) => { dockerUp = false; log.warn({ err: err.message }, 'could not list Docker images'); return [] })
      const inDocker = new Map(images.map(image => [image.id, image]))
      const refOf = (name: string, imageId: string): string | null => {
        const image = inDocker.get(imageId)
        if (image == null) return null
        const ours = [environmentTag(name, imageId).ref, fetchedTag(imageId).ref].find(ref => image.tags.includes(ref))
        return ours ?? image.tags[0] ?? imageId
      }
      const views: EnvironmentView[] = []
      const seen = new Set<string>()
      for (const record of await records.all()) {
        seen.add(`${record.name}@${record.imageId}`)
        const held = inDocker.has(record.imageId) || (dockerUp && await inspectImage(docker, record.imageId).catch(() => null) != null)
        views.push({
          name: record.name, cid: record.cid, imageId: record.imageId, bytes: record.bytes, layers: record.layers,
          accelerator: record.accelerator, description: record.description !== '' ? record.description : `from ${record.source}`, origin: record.origin,
          held, image: held ? refOf(record.name, record.imageId) ?? record.imageId : null,
          createdAt: new Date(record.createdAt).toISOString(), lastUsedAt: null,
          buildSeconds: record.buildMs != null ? Math.round(record.buildMs / 100) / 10 : null
        })
      }
      for (const entry of await records.cache.all()) {
        if (seen.has(`${entry.name}@${entry.imageId}`)) continue
        seen.add(`${entry.name}@${entry.imageId}`)
        const held = inDocker.has(entry.imageId)
        views.push({
          name: entry.name, cid: entry.cid, imageId: entry.imageId, bytes: entry.bytes, layers: entry.layers,
          accelerator: entry.accelerator, description: entry.description, origin: 'fetched',
          held, image: held ? refOf(entry.name, entry.imageId) : null,
          createdAt: new Date(entry.loadedAt).toISOString(), lastUsedAt: new Date(entry.lastUsedAt).toISOString(), buildSeconds: null
        })
      }
      // Labelled images installed by hand, never published: one per name (installed.ts: an image
      // built FROM one inherits its label, not its name), none for a name published or built here.
      const recorded = new Set((await records.all()).map(record => record.name))
      const local = images.flatMap(image => {
        const ref = handInstalledTag(image.name, image.tags)
        return ref == null || recorded.has(image.name) ? [] : [{ ...image, ref }]
      }).sort((a, b) => a.ref < b.ref ? -1 : 1)
      const listed = new Set<string>()
      for (const image of local) {
        if (listed.has(image.name)) continue
        listed.add(image.name)
        const meta = imageMetadata(image.labels)
        views.push({
          name: image.name, cid: null, imageId: image.id, bytes: image.size, layers: null,
          accelerator: meta.accelerator, description: meta.description, origin: 'local',
          held: true, image: image.ref, createdAt: null, lastUsedAt: null, buildSeconds: null
        })
      }
      // the built-in recipes this node has no environment of yet; the engine's recipe cache may hold their image
      for (const recipe of RECIPES) {
        if (views.some(view => view.name === recipe)) continue
        const cached = dockerUp ? await cachedRecipeImage(docker, recipe).catch(() => null) : null
        views.push({
          name: recipe, cid: null, imageId: cached?.Id ?? '', bytes: cached?.Size ?? 0, layers: null,
          accelerator: 'cpu', description: `${RECIPE_DESCRIPTIONS[recipe]}; not built here: floe env build --recipe ${recipe}${cached != null ? ' (its image is in the engine\'s recipe cache: seconds)' : ''}`,
          origin: 'recipe', held: false, image: null, createdAt: null, lastUsedAt: null, buildSeconds: null
        })
      }
      return views.sort((a, b) => a.name.localeCompare(b.name) || a.origin.localeCompare(b.origin))
    },

    async publish (request: { image?: string, file?: string, name?: string }, options: PublishOptions = {}): Promise<EnvironmentRecord> {
      const record = request.file != null
        ? await publishTarFile({ ...components, records }, { file: request.file, name: request.name }, options)
        : await publishImage({ ...components, records }, { image: request.image ?? '', name: request.name }, options)
      log.info({ environment: record.name, cid: record.cid, imageId: record.imageId, bytes: record.bytes }, 'environment published')
      return changed(record)
    },

    /** `floe env pull`: the engine pulls from a registry, then the image is published as content. */
    async pull (request: { image: string, name?: string }, options: PublishOptions = {}): Promise<EnvironmentRecord> {
      const record = await timed(async () => await pullEnvironment({ ...components, records }, request, options))
      log.info({ environment: record.name, image: request.image, cid: record.cid, imageId: record.imageId, bytes: record.bytes }, 'environment pulled')
      return changed(record)
    },

    /**
     * `base` with a job's dependencies installed (requirements.ts): the derived environment's
     * record, built now or `cached`; null when there is nothing to install.
     */
    async withDependencies (base: string, deps: Dependencies, options: PublishOptions = {}): Promise<{ record: EnvironmentRecord, cached: boolean } | null> {
      const started = Date.now()
      let derived = await deriveEnvironment({ ...recipeComponents, pip: components.pip ?? {} }, base, deps, options)
      if (derived != null && !derived.cached) {
        const record = { ...derived.record, buildMs: Date.now() - started }
        await records.put(record)
        derived = { record, cached: false }
        log.info({ environment: derived.record.name, base, cid: derived.record.cid, bytes: derived.record.bytes }, 'environment built for a job\'s dependencies')
        components.onChange()
      }
      return derived
    },

    async build (request: BuildRequest, options: PublishOptions = {}): Promise<EnvironmentRecord> {
      const record = await timed(async () => await buildEnvironment(recipeComponents, request, options))
      log.info({ environment: record.name, cid: record.cid, imageId: record.imageId, bytes: record.bytes }, 'environment built')
      return changed(record)
    },

    async buildRecipe (recipe: RecipeName, options: PublishOptions = {}): Promise<EnvironmentRecord> {
      const record = await timed(async () => await buildRecipe(recipeComponents, recipe, options))
      log.info({ environment: record.name, recipe, cid: record.cid, bytes: record.bytes }, 'environment built from its recipe')
      return changed(record)
    },

    /** Forgets a published or built environment: its record and pin go (floe gc frees the blocks), and floe's tag of its image. */
    async remove (name: string): Promise<EnvironmentRecord> {
      const record = await records.get(name)
      if (record == null) throw new EnvironmentNotFoundError(`no environment "${name}" was published or built here (floe env ls)`)
      await records.del(name)
      await pinReasons.environment(name).remove(components.pins, CID.parse(record.cid))
      await removeImage(await components.docker(), environmentTag(name, record.imageId).ref).catch(() => false)
      return changed(record)
    },

    /** The image a job in environment `name` carries: this node's record of it, when it has one. */
    async imageFor (name: string): Promise<JobImage | undefined> {
      const record = await records.get(name)
      return record == null ? undefined : { cid: CID.parse(record.cid), id: record.imageId, bytes: record.bytes }
    },

    /** Names of environments published or built here. */
    async names (): Promise<string[]> {
      return (await records.all()).map(record => record.name)
    }
  }
}

export type EnvironmentService = ReturnType<typeof environmentService>
