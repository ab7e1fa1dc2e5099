import type Docker from 'dockerode'
import type { ImageInfo, ListImagesOptions } from 'dockerode'
import { handInstalled } from '../../environments/installed.js'

/** The image label that marks a local image as a floe environment; its value is the environment's name. */
export const ENVIRONMENT_LABEL = 'org.floe.environment'
/** How long a status check waits for the engine to say it is there (`floe status`, the offer's resources). */
export const DOCKER_TIMEOUT_MS = 5_000
/**
 * How long the engine may leave a request unanswered (no byte on its connection) before the
 * call fails. Generous: on a loaded machine, starting a gVisor container or an exec took more
 * than 5 s (the project's CI saw `could not start container …: socket hang up` when this was
 * 5 s), and a job that failed then ran on in the engine. A hung engine still fails calls.
 */
export const DOCKER_REQUEST_TIMEOUT_MS = 120_000

export interface Environment {
  /** the label's value, e.g. `busybox` */
  name: string
  /** a reference `docker run` takes, `repo:tag` */
  image: string
  /** the image id, `sha256:…` */
  id: string
  sizeBytes: number
}

export type DockerStatus =
  | { available: true, version: string, apiVersion: string, environments: Environment[] }
  | { available: false, error: string, environments: [] }

/** The part of dockerode this module uses (a dockerode instance fits it). */
export interface DockerEngine {
  version (options?: { abortSignal?: AbortSignal }): Promise<{ Version: string, ApiVersion: string }>
  listImages (options?: ListImagesOptions): Promise<ImageInfo[]>
}

/**
 * A client on the default socket (or DOCKER_HOST), a request failing after `timeoutMs`
 * (default DOCKER_REQUEST_TIMEOUT_MS) without a byte from the engine; a quick check passes its
 * own `abortSignal`. dockerode is loaded on first use: it costs ~10 MiB resident, which a node
 * that never measures its resources (provider mode off) need not pay.
 */
export async function createDockerClient (options: { timeoutMs?: number } = {}): Promise<Docker> {
  const { default: DockerClient } = await import('dockerode')
  return new DockerClient({ timeout: options.timeoutMs ?? DOCKER_REQUEST_TIMEOUT_MS })
}

/**
 * Whether the Docker engine answers, its version, and the floe environments it holds. An engine
 * that is absent, refuses us or is too slow is reported (`available: false`), never thrown.
 */
export async function detectDocker (options: { docker?: DockerEngine, timeoutMs?: number } = {}): Promise<DockerStatus> {
  const docker = options.docker ?? await createDockerClient()
  const timeoutMs = options.timeoutMs ?? DOCKER_TIMEOUT_MS
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const [version, images] = await Promise.all([
      docker.version({ abortSignal: signal }),
      docker.listImages({ filters: { label: [ENVIRONMENT_LABEL] }, abortSignal: signal })
    ])
    return { available: true, version: version.Version, apiVersion: version.ApiVersion, environments: toEnvironments(images) }
  } catch (err: any) {
    const why = signal.aborted ? `no answer within ${timeoutMs / 1000} s` : oneLine(err?.message ?? String(err))
    return { available: false, error: `Docker engine not reachable (${why}); check that dockerd is running and that this user may use its socket`, environments: [] }
  }
}

/**
 * One environment per name, from the labelled images installed by hand as that name
 * (daemon/environments/installed.ts: tagged `…/NAME`, outside floe's own repositories). An
 * image a job brought, one another floe daemon on the engine loaded, or one that only
 * inherited the label is not an environment of this node.
 */
export function toEnvironments (images: readonly ImageInfo[]): Environment[] {
  return handInstalled(images)
    .map(env => ({ name: env.name, image: env.ref, id: env.id, sizeBytes: env.sizeBytes }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.image.localeCompare(b.image))
}

function oneLine (text: string): string {
  return text.split('\n').map(line => line.trim()).filter(line => line !== '').join(' ')
}
