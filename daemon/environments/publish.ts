import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { Readable } from 'node:stream'
import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import { pack } from 'tar-stream'
import { CID } from 'multiformats/cid'
import { ENVIRONMENT_LABEL, EnvironmentName, type EnvProgress } from '../../protocol/environments/environment.js'
import { ContentPathError } from '../content/errors.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { syncBlocks } from '../store/stores.js'
import { buildImage, environmentTag, inspectImage, saveImage, tagImage } from './docker-images.js'
import { EnvironmentNotFoundError, InvalidEnvironmentError, NotAnImageError } from './errors.js'
import { describeImageDag, imageMetadata, type ImageDescription } from './image-dag.js'
import { importImageTar } from './image-tar.js'
import { loadImageDag } from './load.js'
import { pinReasons } from '../store/pin-reasons.js'
import type { EnvironmentRecord, EnvironmentRecords } from './records.js'

export interface PublishComponents {
  docker: () => Promise<Docker>
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  pins: PinSet
  guard: GcGuard
  records: EnvironmentRecords
}

export interface PublishOptions {
  signal?: AbortSignal
  onProgress?: (progress: EnvProgress) => void
}

/** An environment name from an image reference: `registry/team/torch:2.1` → `torch`. */
export function nameFromReference (ref: string): string {
  const path = ref.replace(/@sha256:[0-9a-f]+$/, '')
  const last = path.slice(path.lastIndexOf('/') + 1)
  const repo = last.includes(':') ? last.slice(0, last.indexOf(':')) : last
  return repo.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64)
}

export function checkEnvironmentName (name: string): string {
  const parsed = EnvironmentName.safeParse(name)
  if (!parsed.success) throw new InvalidEnvironmentError(`"${name}" is not a valid environment name: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  return parsed.data
}

/** A build context of one Dockerfile. */
function dockerfileContext (text: string): Readable {
  const context = pack()
  context.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, text)
  context.finalize()
  return context as unknown as Readable
}

/**
 * The image with `org.floe.environment=NAME`, so providers holding it list it in their
 * offers: the image itself when it carries that label already, else a new image made from it
 * with the label (`FROM image` + the label: no new layer, only a new config).
 */
async function labelled (docker: Docker, imageId: string, labels: Readonly<Record<string, string>> | null, name: string, options: PublishOptions): Promise<string> {
  if (labels?.[ENVIRONMENT_LABEL] === name) return imageId
  options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message: `labelling ${imageId.slice(0, 19)} as environment ${name}` })
  return await buildImage(docker, dockerfileContext(`FROM ${imageId}\n`), { dockerfile: 'Dockerfile', labels: { [ENVIRONMENT_LABEL]: name }, network: 'none', signal: options.signal })
}

/**
 * Records an image DAG (imported, checked) as environment `name`: its blocks synced, pinned
 * under `env:NAME`, the record written (a record of that name before is replaced and its pin
 * removed; `floe gc` frees what nothing else keeps).
 */
async function record (components: PublishComponents, image: ImageDescription, name: string, meta: { origin: EnvironmentRecord['origin'], source: string }): Promise<EnvironmentRecord> {
  const labels = imageMetadata(image.labels)
  await syncBlocks(components.blocksPath)
  await pinReasons.environment(name).add(components.pins, image.root)
  const before = await components.records.get(name)
  const next: EnvironmentRecord = {
    name,
    cid: image.root.toString(),
    imageId: image.id,
    bytes: image.bytes,
    layers: image.layers.length,
    accelerator: labels.accelerator,
    description: labels.description,
    origin: meta.origin,
    source: meta.source,
    createdAt: Date.now()
  }
  await components.records.put(next)
  if (before != null && before.cid !== next.cid) await pinReasons.environment(name).remove(components.pins, CID.parse(before.cid))
  return next
}

/**
 * `floe env publish IMAGE`: `docker save` of a local image (labelled first when it is not
 * labelled with the name), streamed into the block store as a DAG, checked to be the same
 * image, and recorded as environment NAME (default: its repository's name; for an image
 * given by id, its label).
 */
export async function publishImage (components: PublishComponents, request: { image: string, name?: string, origin?: EnvironmentRecord['origin'], source?: string }, options: PublishOptions = {}): Promise<EnvironmentRecord> {
  const docker = await components.docker()
  const info = await inspectImage(docker, request.image)
  if (info == null) throw new EnvironmentNotFoundError(`Docker holds no image "${request.image}"; build or load it first (docker images lists what it holds)`)
  // By default the repository's name: a label alone may be inherited (every image built FROM floe/busybox says busybox).
  const byId = /^(sha256:)?[0-9a-f]{12,64}$/.test(request.image)
  const name = checkEnvironmentName(request.name ?? (byId ? imageMetadata(info.Config?.Labels).name : null) ?? nameFromReference(request.image))
  const imageId = await labelled(docker, info.Id, info.Config?.Labels ?? null, name, options)
  const { repo, tag } = environmentTag(name, imageId)
  await tagImage(docker, imageId, repo, tag)
  const size = (await inspectImage(docker, imageId))?.Size ?? null
  return await components.guard.shared(async () => {
    options.onProgress?.({ phase: 'save', bytes: 0, totalBytes: size })
    const tar = await saveImage(docker, imageId)
    const imported = await importImageTar(components.blockstore, tar, {
      what: `the saved image ${imageId}`,
      signal: options.signal,
      onProgress: bytes => options.onProgress?.({ phase: 'import', bytes, totalBytes: size })
    })
    const image = await describeImageDag(components.blockstore, imported.cid, { signal: options.signal })
    if (image.id !== imageId) throw new NotAnImageError(`docker save of ${imageId} gave image ${image.id}; publish it again`)
    return await record(components, image, name, { origin: request.origin ?? 'published', source: request.source ?? request.image })
  })
}

/**
 * `floe env publish FILE.tar`: a tar docker save wrote. It is imported and checked first (a
 * tar that is not a Docker image is refused before Docker sees it), loaded, and published as
 * a local image would be.
 */
export async function publishTarFile (components: PublishComponents, request: { file: string, name?: string }, options: PublishOptions = {}): Promise<EnvironmentRecord> {
  let size: number
  try {
    const info = await stat(request.file)
    if (!info.isFile()) throw new ContentPathError(`${request.file} is not a file`)
    size = info.size
  } catch (err: any) {
    if (err?.name === 'ContentPathError') throw err
    throw new ContentPathError(err?.code === 'ENOENT' ? `${request.file} does not exist` : `cannot read ${request.file}: ${err?.message ?? err}`)
  }
  const docker = await components.docker()
  const loaded = await components.guard.shared(async () => {
    const imported = await importImageTar(components.blockstore, createReadStream(request.file), {
      what: request.file,
      signal: options.signal,
      onProgress: bytes => options.onProgress?.({ phase: 'import', bytes, totalBytes: size })
    })
    const image = await describeImageDag(components.blockstore, imported.cid, { signal: options.signal })
    const meta = imageMetadata(image.labels)
    const name = checkEnvironmentName(request.name ?? meta.name ?? nameFromReference(basename(request.file).replace(/\.tar$/, '')))
    await loadImageDag(docker, components.blockstore, image.root, { tag: id => environmentTag(name, id), signal: options.signal, onProgress: (bytes, totalBytes) => options.onProgress?.({ phase: 'load', bytes, totalBytes }) })
    if (meta.name !== name) return { image, name, recorded: null }
    return { image, name, recorded: await record(components, image, name, { origin: 'published', source: request.file }) }
  })
  // labelled anew: a new image, saved and recorded as any local one (outside the guard above: it takes it itself)
  return loaded.recorded ?? await publishImage(components, { image: loaded.image.id, name: loaded.name, source: request.file }, options)
}
