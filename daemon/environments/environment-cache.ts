import { stat, statfs } from 'node:fs/promises'
import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import type { JobImage, JobSpec } from '../../protocol/jobs/spec.js'
import type { ProviderSettings } from '../../protocol/market/settings.js'
import { formatSize } from '../../protocol/market/requirements.js'
import type { DagFetched, RequireDag } from '../content/require-dag.js'
import type { Logger } from '../log.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { fetchedTag, inspectImage, removeImage } from './docker-images.js'
import { EnvironmentDiskError } from './errors.js'
import { imageMetadata } from './image-dag.js'
import { loadImageDag } from './load.js'
import { pinReasons } from '../store/pin-reasons.js'
import type { EnvironmentRecords } from './records.js'

export interface EnvironmentCacheComponents {
  docker: () => Promise<Docker>
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  pins: PinSet
  guard: GcGuard
  records: EnvironmentRecords
  /** makes a DAG whole locally, from the client or any connected peer (bulk protocol) */
  requireDag: RequireDag
  settings: () => ProviderSettings
  /** the daemon's home: where the blocks go */
  home: string
  /** the environments held changed (the offer should say so) */
  onChange: () => void
  log: Logger
}

/** Whether a job's environment can be run here: the image to run, or why not. */
export type EnvironmentPlan = { image: string } | { refuse: string }

/** The fetch and the load of an environment a job brought, timed apart. */
export interface EnvironmentFetch { fetchedBytes: number, fetchMs: number, loadMs: number }

export interface PreparedEnvironment {
  /** what `docker run` takes: the image id */
  image: string
  /** null when the image was held already */
  fetched: EnvironmentFetch | null
  /** the job no longer needs the hold (its container now keeps the image from removal) */
  release(): void
}

/**
 * An image needs room for its blocks (kept, to serve peers and to share layers with the next
 * environment), Docker's temporary copy while `docker load` unpacks it, and its layers.
 */
const DISK_FACTOR = { blocks: 1, docker: 2 }

/**
 * The provider's side of environments: whether a job that names an image it lacks may bring
 * it (accept-environments, the max-environments-disk budget, free disk: all checked before
 * anything is fetched, the refusal saying the sizes), and fetching, checking and loading it
 * for the job (one fetch per image however many jobs wait for it). Environments fetched this
 * way are kept (pinned `env-cache`, tagged `floe-fetched:<id>`: a fetched image never stands
 * for an environment name, only for its own id) for the next job; past the
 * budget, the least recently used that no job holds are removed (image untagged, blocks
 * unpinned for `floe gc`).
 */
export function environmentCache (components: EnvironmentCacheComponents) {
  const { log, records } = components
  /** image id → jobs being prepared in it (not yet in a container) */
  const holds = new Map<string, number>()
  const inflight = new Map<string, Promise<EnvironmentFetch>>()
  let dockerRoot: Promise<string | null> | undefined

  const hold = (imageId: string): () => void => {
    holds.set(imageId, (holds.get(imageId) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (holds.get(imageId) ?? 1) - 1
      if (left <= 0) holds.delete(imageId)
      else holds.set(imageId, left)
    }
  }

  const label = (spec: Pick<JobSpec, 'environment'>, image: JobImage): string => `environment "${spec.environment}" (${formatSize(image.bytes)}, image ${image.id.slice(7, 19)})`

  /** Bytes of cached environments no job can give up now. */
  const heldBytes = async (): Promise<number> => (await records.cache.all()).filter(e => holds.has(e.imageId) || inflight.has(e.cid)).reduce((sum, e) => sum + e.bytes, 0)

  /** Why this image does not fit the budget or the disk now, or null. */
  const roomProblem = async (spec: Pick<JobSpec, 'environment'>, image: JobImage): Promise<string | null> => {
    const max = components.settings().maxEnvironmentsBytes
    if (image.bytes > max) return `${label(spec, image)} is more than the ${formatSize(max)} this provider gives environments (max-environments-disk)`
    const busy = await heldBytes()
    if (busy + image.bytes > max) return `${label(spec, image)} does not fit: of the ${formatSize(max)} this provider gives environments, ${formatSize(busy)} are in use by jobs`
    return await diskProblem(spec, image)
  }

  const diskProblem = async (spec: Pick<JobSpec, 'environment'>, image: JobImage): Promise<string | null> => {
    dockerRoot ??= components.docker().then(async docker => ((await docker.info()) as { DockerRootDir?: string }).DockerRootDir ?? null).catch(() => null)
    const places: Array<{ path: string, bytes: number }> = [{ path: components.home, bytes: DISK_FACTOR.blocks * image.bytes }]
    const root = await dockerRoot
    places.push({ path: root ?? components.home, bytes: DISK_FACTOR.docker * image.bytes })
    // places on one file system add up
    const byDevice = new Map<number, { path: string, need: number, free: number }>()
    for (const place of places) {
      let device: number
      let free: number
      try {
        device = (await stat(place.path)).dev
        const fs = await statfs(place.path)
        free = fs.bavail * fs.bsize
      } catch {
        continue // Docker's folder on another machine or out of reach: not ours to judge
      }
      const seen = byDevice.get(device)
      if (seen != null) seen.need += place.bytes
      else byDevice.set(device, { path: place.path, need: place.bytes, free })
    }
    for (const { path, need, free } of byDevice.values()) {
      if (need > free) return `${label(spec, image)} needs about ${formatSize(need)} free on ${path} (its blocks, Docker's copy while loading, its layers); ${formatSize(free)} are free`
    }
    return null
  }

  /**
   * Removes least recently used environments that no job holds until `bytes` more fit the
   * budget. Those a container still uses stay (Docker refuses to remove them).
   */
  const makeRoom = async (bytes: number, keep: string): Promise<void> => {
    const max = components.settings().maxEnvironmentsBytes
    const entries = (await records.cache.all()).sort((a, b) => a.lastUsedAt - b.lastUsedAt)
    let used = entries.reduce((sum, e) => sum + e.bytes, 0)
    const docker = await components.docker()
    for (const entry of entries) {
      if (used + bytes <= max) break
      if (entry.cid === keep || holds.has(entry.imageId) || inflight.has(entry.cid)) continue
      const ref = fetchedTag(entry.imageId).ref
      const removed = await removeImage(docker, ref)
      if (!removed && await inspectImage(docker, ref) != null) continue
      await pinReasons.environmentCache().remove(components.pins, CID.parse(entry.cid))
      await records.cache.del(entry.cid)
      used -= entry.bytes
      log.info({ environment: entry.name, cid: entry.cid, bytes: entry.bytes }, 'environment removed from the cache (least recently used)')
    }
  }

  const fetchAndLoad = async (spec: JobSpec, image: JobImage, options: { signal?: AbortSignal, onLine?: (line: string) => void }): Promise<EnvironmentFetch> => {
    const problem = await roomProblem(spec, image)
    if (problem != null) throw new EnvironmentDiskError(problem)
    await makeRoom(image.bytes, image.cid.toString())
    options.onLine?.(`fetching ${label(spec, image)}`)
    // A DAG bigger than declared is cut off: the checks above were made for the declared size.
    const limit = new AbortController()
    const signal = options.signal == null ? limit.signal : AbortSignal.any([options.signal, limit.signal])
    const ceiling = Math.ceil(image.bytes * 1.01) + 4 * 1024 * 1024
    const started = Date.now()
    let fetched: DagFetched
    let loadMs: number
    try {
      fetched = await components.guard.shared(async () => {
        await pinReasons.environmentCache().add(components.pins, image.cid)
        return await components.requireDag(image.cid, {
          signal,
          onProgress: bytes => { if (bytes > ceiling) limit.abort(new EnvironmentDiskError(`${label(spec, image)} sent more than its declared size; refused`)) }
        })
      })
      const fetchMs = Date.now() - started
      options.onLine?.(fetched.via === 'local'
        ? `${label(spec, image)}: every block held here already`
        : `fetched ${label(spec, image)}: ${formatSize(fetched.bytes)} moved${fetched.bytes < image.bytes * 0.99 ? ' (the rest held here)' : ''} from ${fetched.peer ?? 'a peer'} in ${(fetchMs / 1000).toFixed(1)} s`)
      const loaded = await loadImageDag(await components.docker(), components.blockstore, image.cid, { tag: fetchedTag, expectId: image.id, signal })
      if (loaded.image.bytes > image.bytes) {
        throw new EnvironmentDiskError(`${label(spec, image)} is ${formatSize(loaded.image.bytes)}, more than the job declared`)
      }
      loadMs = loaded.ms
      options.onLine?.(`loaded ${label(spec, image)} into Docker in ${(loadMs / 1000).toFixed(1)} s`)
      const meta = imageMetadata(loaded.image.labels)
      const now = Date.now()
      await records.cache.put({ cid: image.cid.toString(), name: spec.environment, imageId: image.id, bytes: loaded.image.bytes, accelerator: meta.accelerator, description: meta.description, layers: loaded.image.layers.length, loadedAt: now, lastUsedAt: now })
      return { fetchedBytes: fetched.via === 'bulk' ? fetched.bytes : 0, fetchMs, loadMs }
    } catch (err) {
      // nothing half-done stays: the load removed what it loaded; the blocks are left to gc
      // (unless an entry of the cache still counts on them)
      if (await records.cache.get(image.cid.toString()) == null) await pinReasons.environmentCache().remove(components.pins, image.cid)
      if (limit.signal.aborted && !(options.signal?.aborted ?? false)) throw limit.signal.reason
      throw err
    }
  }

  return {
    /**
     * Whether this provider can run the job's image: held (by its id) → run it; else whether
     * it may be brought (settings, budget, disk: the refusal says which and the sizes).
     */
    async plan (spec: JobSpec): Promise<EnvironmentPlan> {
      const image = spec.image
      if (image == null) return { refuse: 'the job names no image' }
      if (await inspectImage(await components.docker(), image.id) != null) return { image: image.id }
      if (!components.settings().acceptEnvironments) {
        return { refuse: `${label(spec, image)} is not held here, and this provider takes no new environments (accept-environments off)` }
      }
      const problem = await roomProblem(spec, image)
      return problem == null ? { image: image.id } : { refuse: problem }
    },

    /**
     * The job's image held in Docker, fetched and loaded first when it is not: checked
     * against its CID block by block as it arrives, against the image id after, and against
     * the size the job declared. Jobs waiting for the same image share one fetch.
     */
    async prepare (spec: JobSpec, options: { signal?: AbortSignal, onLine?: (line: string) => void } = {}): Promise<PreparedEnvironment> {
      const image = spec.image
      if (image == null) throw new Error('the job names no image')
      const release = hold(image.id)
      try {
        const key = image.cid.toString()
        const cached = await records.cache.get(key)
        if (cached != null) await records.cache.put({ ...cached, lastUsedAt: Date.now() })
        if (!inflight.has(key) && await inspectImage(await components.docker(), image.id) != null) return { image: image.id, fetched: null, release }
        let pending = inflight.get(key)
        if (pending == null) {
          pending = fetchAndLoad(spec, image, options)
          inflight.set(key, pending)
          void pending.finally(() => { inflight.delete(key) }).then(() => { components.onChange() }, () => {})
        } else {
          options.onLine?.(`waiting for ${label(spec, image)}, which another job is fetching`)
        }
        const fetched = await pending
        return { image: image.id, fetched, release }
      } catch (err) {
        release()
        throw err
      }
    },

    async list () {
      return await records.cache.all()
    }
  }
}

export type EnvironmentCache = ReturnType<typeof environmentCache>
