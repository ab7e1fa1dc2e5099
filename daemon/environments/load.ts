import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { describeImageDag, type ImageDescription } from './image-dag.js'
import { imageTarStream } from './image-stream.js'
import { inspectImage, loadImage, removeImage, tagImage, type ImageTag } from './docker-images.js'
import { NotAnImageError } from './errors.js'

export interface LoadedImage {
  image: ImageDescription
  /** the reference floe tagged it with */
  ref: string
  /** false: Docker held this image already, nothing was loaded */
  loaded: boolean
  ms: number
}

/**
 * Loads an image DAG (held whole in `blockstore`) into Docker, tagged `tag(its id)` (floe's
 * tag of an environment published here, or the fetched tag of one a job brought). First
 * the DAG is checked (describeImageDag; with `expectId`, it must be that image); then its tar
 * is streamed from the store into `docker load`, and Docker must then hold exactly the image
 * id the config's digest names. An image Docker holds already is only tagged. On any failure
 * the image is removed again unless it was there before, so nothing half-loaded stays.
 */
export async function loadImageDag (docker: Docker, blockstore: Pick<Blockstore, 'get'>, root: CID, options: { tag: (imageId: string) => ImageTag, expectId?: string, signal?: AbortSignal, onProgress?: (bytes: number, totalBytes: number) => void }): Promise<LoadedImage> {
  const started = Date.now()
  const image = await describeImageDag(blockstore, root, { signal: options.signal })
  if (options.expectId != null && image.id !== options.expectId) {
    throw new NotAnImageError(`${root} holds image ${image.id}, not ${options.expectId} as the job says`)
  }
  const { repo, tag, ref } = options.tag(image.id)
  if (await inspectImage(docker, image.id) != null) {
    await tagImage(docker, image.id, repo, tag)
    return { image, ref, loaded: false, ms: Date.now() - started }
  }
  try {
    // a tar that fails part-way (a block unreadable) must end the upload, not leave it waiting
    const upload = new AbortController()
    const signal = options.signal == null ? upload.signal : AbortSignal.any([options.signal, upload.signal])
    let broken: Error | undefined
    const tar = imageTarStream(blockstore, image, { repoTags: [ref], signal, onProgress: bytes => options.onProgress?.(bytes, image.bytes) })
    tar.once('error', (err: Error) => { broken = err; upload.abort(err) })
    try {
      await loadImage(docker, tar, { signal })
    } catch (err) {
      throw broken ?? err
    }
    const loaded = await inspectImage(docker, image.id)
    if (loaded == null) throw new NotAnImageError(`docker load took ${root} but holds no image ${image.id} after it`)
    return { image, ref, loaded: true, ms: Date.now() - started }
  } catch (err) {
    await removeImage(docker, image.id, { force: true }).catch(() => false)
    throw err
  }
}
