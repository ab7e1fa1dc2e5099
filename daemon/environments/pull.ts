import type Docker from 'dockerode'
import { EnvironmentNotFoundError, ImageEngineError, InvalidEnvironmentError } from './errors.js'
import { checkEnvironmentName, nameFromReference, publishImage, type PublishComponents, type PublishOptions } from './publish.js'
import type { EnvironmentRecord } from './records.js'

/**
 * An image reference as Docker takes it: `[registry[:port]/]path[:tag][@sha256:<64 hex>]`
 * (the distribution reference grammar, lowercase path components).
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?|\\[[0-9a-fA-F:]+\\](?::[0-9]{1,5})?)'
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`)

export interface ImageReference {
  /** as given */
  ref: string
  /** the repository, with its registry when one was given */
  repository: string
  tag: string | null
  digest: string | null
}

/** Parses an image reference, or says what is wrong with it. */
export function parseImageReference (ref: string): ImageReference {
  if (ref.length > 512) throw new InvalidEnvironmentError('an image reference is at most 512 characters')
  const match = REFERENCE.exec(ref)
  if (match == null) {
    const hint = /@/.test(ref) && !/@sha256:[0-9a-f]{64}$/.test(ref)
      ? 'a digest is @sha256: and 64 lowercase hex digits'
      : 'expected [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], lowercase name (e.g. 127.0.0.1:5000/team/torch:2.1)'
    throw new InvalidEnvironmentError(`"${ref}" is not an image reference: ${hint}`)
  }
  const [, domain, path, tag, digest] = match
  // a first component that looks like a host (has . or :, or is localhost) is the registry; the
  // regex may have read `host:port` as `path:tag` when no path follows: keep Docker's reading.
  return { ref, repository: domain != null ? `${domain}/${path}` : path ?? '', tag: tag ?? null, digest: digest ?? null }
}

function oneLine (text: string): string {
  return text.split('\n').map(line => line.trim()).filter(line => line !== '').join(' ')
}

/** The engine's words for a failed pull, made into a cause and a fix. */
export function explainPullFailure (ref: ImageReference, message: string): Error {
  const text = oneLine(message)
  const registry = ref.repository.includes('/') && /[.:]|^localhost/.test(ref.repository.split('/')[0] ?? '') ? ref.repository.split('/')[0] as string : 'Docker Hub'
  if (/connection refused|no such host|i\/o timeout|network is unreachable|dial tcp|TLS handshake timeout|server misbehaving|lookup .* on/i.test(text)) {
    return new ImageEngineError(`cannot reach the registry ${registry} to pull ${ref.ref}: ${text} (is it up, and can this machine's Docker engine reach it? floe env publish takes an image Docker already holds)`)
  }
  if (ref.digest != null && /manifest unknown|not found|does not match|digest/i.test(text)) {
    return new EnvironmentNotFoundError(`${ref.repository} has no image with digest ${ref.digest} at ${registry}: ${text} (check the digest: docker buildx imagetools inspect, or pull by tag)`)
  }
  if (/manifest unknown|not found|does not exist|repository .* not found|pull access denied|unauthorized/i.test(text)) {
    return new EnvironmentNotFoundError(`${registry} has no image ${ref.tag != null || ref.digest != null ? ref.ref : `${ref.ref} (tag latest)`}: ${text} (check the name and tag; a private registry needs docker login on this machine)`)
  }
  return new ImageEngineError(`docker pull ${ref.ref} failed: ${text}`)
}

/**
 * Pulls an image with the engine (`docker pull`), reporting each layer's download as it goes;
 * resolves with the image's id. The engine checks a digest pull's manifest against the digest.
 */
export async function pullImage (docker: Docker, ref: ImageReference, options: PublishOptions = {}): Promise<string> {
  const say = (message: string, bytes = 0, totalBytes: number | null = null): void => options.onProgress?.({ phase: 'pull', bytes, totalBytes, message })
  say(`pulling ${ref.ref}`)
  let stream: NodeJS.ReadableStream
  try {
    stream = await docker.pull(ref.ref, { abortSignal: options.signal } as object)
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw explainPullFailure(ref, err?.json?.message ?? err?.message ?? String(err))
  }
  const layers = new Map<string, { current: number, total: number }>()
  const lastStatus = new Map<string, string>()
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, messages: Array<Record<string, any>>) => {
      if (err != null) { reject(explainPullFailure(ref, err.message)); return }
      const failed = messages?.find(m => typeof m.error === 'string')
      if (failed != null) { reject(explainPullFailure(ref, failed.error)); return }
      resolve()
    }, (event: Record<string, any>) => {
      if (typeof event.error === 'string') return
      const id = typeof event.id === 'string' ? event.id : ''
      const status = typeof event.status === 'string' ? event.status : ''
      if (status === 'Downloading' && event.progressDetail?.total > 0) {
        layers.set(id, { current: event.progressDetail.current ?? 0, total: event.progressDetail.total })
        let bytes = 0; let total = 0
        for (const layer of layers.values()) { bytes += layer.current; total += layer.total }
        options.onProgress?.({ phase: 'pull', bytes, totalBytes: total })
        return
      }
      if (status === '' || status === 'Downloading' || status === 'Extracting' || status === 'Waiting') return
      // one line per layer and status change (Pulling fs layer, Download complete, Pull complete, Digest, Status)
      if (lastStatus.get(id) === status) return
      lastStatus.set(id, status)
      say(id !== '' ? `${id}: ${status}` : status)
    })
  })
  const info = await docker.getImage(ref.ref).inspect().catch(() => null)
  if (info == null) throw new ImageEngineError(`docker pull ${ref.ref} ended, but Docker holds no image by that reference`)
  if (ref.digest != null && !(info.RepoDigests ?? []).some(d => d.endsWith(`@${ref.digest as string}`))) {
    throw new ImageEngineError(`docker pull ${ref.ref} gave an image whose digests (${(info.RepoDigests ?? []).join(', ') || 'none'}) do not include ${ref.digest}`)
  }
  return info.Id
}

/**
 * `floe env pull IMAGE[:TAG|@DIGEST] [--name N]`: the engine pulls the image from its registry
 * (where this machine reaches one), then it is published as content like any local image.
 */
export async function pullEnvironment (components: PublishComponents, request: { image: string, name?: string }, options: PublishOptions = {}): Promise<EnvironmentRecord> {
  const ref = parseImageReference(request.image)
  // checked before anything is pulled
  const name = checkEnvironmentName(request.name ?? nameFromReference(ref.repository))
  const imageId = await pullImage(await components.docker(), ref, options)
  return await publishImage(components, { image: imageId, name, origin: 'pulled', source: ref.ref }, options)
}
