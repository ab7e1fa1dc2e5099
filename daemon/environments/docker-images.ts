import type { Readable } from 'node:stream'
import type Docker from 'dockerode'
import type { ImageInspectInfo } from 'dockerode'
import { ENVIRONMENT_REPOSITORY, FETCHED_REPOSITORY } from '../../protocol/environments/environment.js'
import { IMAGE_ID_PATTERN } from '../../protocol/ids.js'
import { ImageEngineError } from './errors.js'

/**
 * The Docker engine calls environments make. Saves, loads and builds take minutes and may
 * be silent for a long while (docker load unpacks the whole tar before it answers), so they
 * use a client without the request timeout of daemon/market/resources/docker.ts.
 */
export async function createImageClient (): Promise<Docker> {
  const { default: DockerClient } = await import('dockerode')
  return new DockerClient()
}

export interface ImageTag { repo: string, tag: string, ref: string }

/** The tag floe gives an environment's image published or built here: `floe-env/NAME:<12 hex of the id>`. */
export function environmentTag (name: string, imageId: string): ImageTag {
  const repo = `${ENVIRONMENT_REPOSITORY}/${name}`
  const tag = imageId.replace(/^sha256:/, '').slice(0, 12)
  return { repo, tag, ref: `${repo}:${tag}` }
}

/**
 * The tag of an image a job brought: `floe-fetched:<64 hex of the id>`. It names no
 * environment (the name a job gives is the job's word, not the provider's), so a fetched
 * image never stands for an environment name (installed.ts).
 */
export function fetchedTag (imageId: string): ImageTag {
  const tag = imageId.replace(/^sha256:/, '')
  return { repo: FETCHED_REPOSITORY, tag, ref: `${FETCHED_REPOSITORY}:${tag}` }
}

function oneLine (text: string): string {
  return text.split('\n').map(line => line.trim()).filter(line => line !== '').join(' ')
}

/** The image, or null when Docker has none by that reference or id. */
export async function inspectImage (docker: Docker, ref: string): Promise<ImageInspectInfo | null> {
  try {
    return await docker.getImage(ref).inspect()
  } catch (err: any) {
    if (err?.statusCode === 404) return null
    throw new ImageEngineError(`Docker could not inspect image ${ref}: ${oneLine(err?.message ?? String(err))}`)
  }
}

/** `docker save` of one image, by id (so the tar carries no tags), as a stream. */
export async function saveImage (docker: Docker, imageId: string): Promise<Readable> {
  try {
    return await docker.getImage(imageId).get() as unknown as Readable
  } catch (err: any) {
    throw new ImageEngineError(`docker save of ${imageId} failed: ${oneLine(err?.message ?? String(err))}`)
  }
}

/**
 * Reads an engine's JSON-lines answer (load, build, import): each message to `onMessage`,
 * and the first `error` thrown once the answer ends.
 */
async function readMessages (answer: Readable, onMessage: (message: Record<string, any>) => void): Promise<void> {
  let buffered = ''
  let failure: string | null = null
  const take = (line: string): void => {
    if (line.trim() === '') return
    let message: Record<string, any>
    try {
      message = JSON.parse(line)
    } catch {
      message = { stream: line }
    }
    if (typeof message.error === 'string' && failure == null) failure = message.error
    onMessage(message)
  }
  for await (const chunk of answer) {
    buffered += String(chunk)
    let newline
    while ((newline = buffered.indexOf('\n')) !== -1) {
      take(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
    }
  }
  take(buffered)
  if (failure != null) throw new ImageEngineError(oneLine(failure))
}

/** `docker load` of a tar stream. Throws ImageEngineError with Docker's reason when it refuses. */
export async function loadImage (docker: Docker, tar: Readable, options: { signal?: AbortSignal } = {}): Promise<void> {
  let answer: Readable
  try {
    answer = await docker.loadImage(tar, { quiet: true, abortSignal: options.signal }) as unknown as Readable
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw new ImageEngineError(`docker load failed: ${oneLine(err?.message ?? String(err))}`)
  }
  try {
    await readMessages(answer, () => {})
  } catch (err: any) {
    throw new ImageEngineError(`docker load refused the image: ${err.message}`)
  }
}

/** Tags an image; an existing tag of that name moves to it. */
export async function tagImage (docker: Docker, imageId: string, repo: string, tag: string): Promise<void> {
  try {
    await docker.getImage(imageId).tag({ repo, tag })
  } catch (err: any) {
    throw new ImageEngineError(`could not tag ${imageId} as ${repo}:${tag}: ${oneLine(err?.message ?? String(err))}`)
  }
}

/**
 * Removes an image reference (a tag: the image goes with its last tag; an id with `force`:
 * every tag). False when a container still uses it or it is gone already.
 */
export async function removeImage (docker: Docker, ref: string, options: { force?: boolean } = {}): Promise<boolean> {
  try {
    await docker.getImage(ref).remove({ force: options.force === true })
    return true
  } catch (err: any) {
    if (err?.statusCode === 404 || err?.statusCode === 409) return false
    throw new ImageEngineError(`could not remove image ${ref}: ${oneLine(err?.message ?? String(err))}`)
  }
}

/**
 * `docker build` from a context tar (the classic builder: what Debian's engine runs without
 * BuildKit). Each line of build output goes to `onLine`; resolves with the image id.
 */
export async function buildImage (docker: Docker, context: Readable, options: { dockerfile: string, labels: Record<string, string>, network: 'none' | 'host', buildArgs?: Record<string, string>, onLine?: (line: string) => void, signal?: AbortSignal }): Promise<string> {
  let answer: Readable
  try {
    answer = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
      dockerfile: options.dockerfile,
      labels: options.labels,
      networkmode: options.network,
      ...(options.buildArgs != null ? { buildargs: options.buildArgs } : {}),
      rm: true,
      forcerm: true,
      abortSignal: options.signal
    } as Docker.ImageBuildOptions) as unknown as Readable
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw new ImageEngineError(`docker build failed to start: ${oneLine(err?.message ?? String(err))}`)
  }
  let id: string | null = null
  let built: string | null = null
  try {
    await readMessages(answer, message => {
      if (typeof message.aux?.ID === 'string') id = message.aux.ID
      if (typeof message.stream === 'string') {
        for (const line of message.stream.split('\n').filter((l: string) => l.trim() !== '')) {
          const short = /^Successfully built ([0-9a-f]{12,64})$/.exec(line.trim())
          if (short != null) built = short[1] ?? null
          options.onLine?.(line)
        }
      }
    })
  } catch (err: any) {
    throw new ImageEngineError(`docker build failed: ${err.message}`)
  }
  const result: string | null = id ?? built
  if (result == null) throw new ImageEngineError('docker build ended without naming the image it built')
  const image = await inspectImage(docker, result)
  if (image == null) throw new ImageEngineError(`docker build named image ${result}, which Docker does not hold`)
  return image.Id
}

/** `docker import` of a root file system tar: an image of one layer; resolves with its id. */
export async function importRootfs (docker: Docker, tar: Readable, options: { signal?: AbortSignal } = {}): Promise<string> {
  let answer: Readable
  try {
    answer = await docker.importImage(tar as unknown as NodeJS.ReadableStream, { abortSignal: options.signal } as object) as unknown as Readable
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw new ImageEngineError(`docker import failed: ${oneLine(err?.message ?? String(err))}`)
  }
  let id: string | null = null
  try {
    await readMessages(answer, message => {
      if (typeof message.status === 'string' && IMAGE_ID_PATTERN.test(message.status.trim())) id = message.status.trim()
    })
  } catch (err: any) {
    throw new ImageEngineError(`docker import refused the file system: ${err.message}`)
  }
  if (id == null) throw new ImageEngineError('docker import ended without naming the image it made')
  return id
}
