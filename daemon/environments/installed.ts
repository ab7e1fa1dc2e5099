import type { ImageInfo } from 'dockerode'
import { ENVIRONMENT_LABEL, ENVIRONMENT_REPOSITORY, FETCHED_REPOSITORY, RECIPE_REPOSITORY } from '../../protocol/environments/environment.js'
import type { EnvironmentRecords } from './records.js'

/**
 * Which environment names this node answers to, and with which image. A name maps only to
 * an image its owner installed:
 *   - one published or built here (a record `env!NAME` → image id), when Docker holds it;
 *   - an image tagged by hand (`docker build -t floe/busybox`, `docker tag …`) whose
 *     repository's last component is the name its `org.floe.environment` label gives, in a
 *     repository floe itself never tags (`floe-env/…` is what any floe daemon on the engine
 *     publishes, builds or loads; `floe-fetched` what jobs brought).
 * Images a job brought are tagged `floe-fetched:<id>` and so never take over a name; images
 * another floe daemon on a shared engine installed are not listed; an image built FROM an
 * environment inherits its label but not its name (`FROM floe/busybox` tagged `tool` is not
 * `busybox`). Each name maps to an image id, never a tag: a tag moved later moves nothing.
 */
export interface InstalledEnvironment {
  name: string
  /** what `docker run` takes: the image id */
  id: string
  /** a reference for people: the tag that made it count, or floe's tag of a record */
  ref: string
  sizeBytes: number
  origin: 'published' | 'built' | 'pulled' | 'local'
}

/** The part of dockerode this module uses. */
export interface ImageLister {
  listImages (options?: { filters?: Record<string, string[]>, abortSignal?: AbortSignal }): Promise<ImageInfo[]>
}

function repositoryOf (tag: string): string {
  const colon = tag.lastIndexOf(':')
  return colon > tag.lastIndexOf('/') ? tag.slice(0, colon) : tag
}

/** Whether a repository is one floe tags itself (never a sign the owner installed an image). */
export function isFloeRepository (repository: string): boolean {
  return repository === FETCHED_REPOSITORY || repository.startsWith(`${FETCHED_REPOSITORY}/`) ||
    repository === ENVIRONMENT_REPOSITORY || repository.startsWith(`${ENVIRONMENT_REPOSITORY}/`) ||
    repository === RECIPE_REPOSITORY || repository.startsWith(`${RECIPE_REPOSITORY}/`)
}

/**
 * The tag that shows an image labelled `name` was installed by hand as that environment
 * (its repository's last component is `name`, outside floe's repositories), or null.
 * Several such tags: the first in byte order, so the choice does not depend on the engine.
 */
export function handInstalledTag (name: string, tags: readonly string[]): string | null {
  const matching = tags.filter(tag => {
    const repository = repositoryOf(tag)
    if (tag === '<none>:<none>' || isFloeRepository(repository)) return false
    return repository.slice(repository.lastIndexOf('/') + 1) === name
  })
  return matching.sort()[0] ?? null
}

/** Labelled images installed by hand, one per name (the smallest ref in byte order when several). */
export function handInstalled (images: readonly ImageInfo[]): InstalledEnvironment[] {
  const byName = new Map<string, InstalledEnvironment>()
  for (const image of images) {
    const name = image.Labels?.[ENVIRONMENT_LABEL]?.trim()
    if (name == null || name === '') continue
    const ref = handInstalledTag(name, image.RepoTags ?? [])
    if (ref == null) continue
    const held = byName.get(name)
    if (held == null || ref < held.ref) byName.set(name, { name, id: image.Id, ref, sizeBytes: image.Size, origin: 'local' })
  }
  return [...byName.values()]
}

/**
 * Every environment this node's owner installed that Docker holds now: records first (a
 * name published or built here is that image, whatever else carries the name), then images
 * installed by hand. Sorted by name.
 */
export async function installedEnvironments (docker: ImageLister, records: Pick<EnvironmentRecords, 'all'>, options: { signal?: AbortSignal } = {}): Promise<InstalledEnvironment[]> {
  const images = await docker.listImages({ filters: { label: [ENVIRONMENT_LABEL] }, ...(options.signal != null ? { abortSignal: options.signal } : {}) })
  const byId = new Map(images.map(image => [image.Id, image]))
  const byName = new Map<string, InstalledEnvironment>()
  for (const record of await records.all()) {
    // published and built images carry the label (publish labels them), so the list has them when held
    const image = byId.get(record.imageId)
    if (image == null) continue
    const ref = `${ENVIRONMENT_REPOSITORY}/${record.name}:${record.imageId.replace(/^sha256:/, '').slice(0, 12)}`
    byName.set(record.name, { name: record.name, id: record.imageId, ref: (image.RepoTags ?? []).includes(ref) ? ref : record.imageId, sizeBytes: image.Size, origin: record.origin })
  }
  for (const local of handInstalled(images)) {
    if (!byName.has(local.name)) byName.set(local.name, local)
  }
  return [...byName.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

/** What resources say of Docker: whether it answers and the environments it holds. */
interface DockerPart {
  docker: { available: true, version: string, apiVersion: string, environments: Array<{ name: string, image: string, id: string, sizeBytes: number }> } | { available: false, error: string, environments: [] }
}

/**
 * Resources whose environments (what the offer lists) are those the owner installed,
 * published and built ones included. An engine that fails the second question is reported
 * as not answering, as detectDocker reports one that fails the first.
 */
export async function withInstalled<R extends DockerPart> (resources: R, installed: () => Promise<InstalledEnvironment[]>): Promise<R> {
  if (!resources.docker.available) return resources
  try {
    const environments = (await installed()).map(env => ({ name: env.name, image: env.ref, id: env.id, sizeBytes: env.sizeBytes }))
    return { ...resources, docker: { ...resources.docker, environments } }
  } catch (err: any) {
    return { ...resources, docker: { available: false, error: `Docker engine did not list its images (${String(err?.message ?? err).split('\n')[0]})`, environments: [] } }
  }
}
