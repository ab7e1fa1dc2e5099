import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import ignore from 'ignore'
import { pack, type Pack } from 'tar-stream'
import { ACCELERATOR_LABEL, DESCRIPTION_LABEL, ENVIRONMENT_LABEL } from '../../protocol/environments/environment.js'
import { walkTree } from '../content/walk.js'
import { buildImage } from './docker-images.js'
import { InvalidEnvironmentError } from './errors.js'
import { checkEnvironmentName, publishImage, type PublishComponents, type PublishOptions } from './publish.js'
import type { EnvironmentRecord } from './records.js'

export interface BuildComponents extends PublishComponents {
  /** an environment held here (published, fetched or a labelled image) → its image id in Docker, loaded first if need be */
  resolveBase: (name: string, options: PublishOptions) => Promise<string>
}

export interface BuildRequest {
  name: string
  /** the environment to build on */
  from: string
  /** Debian packages installed with apt-get (the base must have apt; the build then uses the network) */
  apt?: string[]
  /** a Dockerfile without FROM: its instructions follow `FROM <the base>`; its folder is the build context */
  file?: string
  description?: string
  accelerator?: 'cpu' | 'cuda'
  /** what to record as the source (default: `FROM + apt + file`) */
  source?: string
  /** `--build-arg`s: values the Dockerfile's ARGs take, not kept in the image's config */
  buildArgs?: Record<string, string>
}

/** The name the generated Dockerfile takes in the context, beside the user's files. */
const GENERATED = '.floe-env.Dockerfile'
const MAX_DOCKERFILE_BYTES = 1024 * 1024
const APT_PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/

/** The Dockerfile of an environment built on another: FROM the base, apt packages, then the user's instructions. */
export function environmentDockerfile (base: string, apt: readonly string[], extra: string | null): string {
  const lines = [`FROM ${base}`]
  for (const pkg of apt) {
    if (!APT_PACKAGE.test(pkg)) throw new InvalidEnvironmentError(`"${pkg}" is not a Debian package name (lowercase letters, digits, + - .; optionally =VERSION)`)
  }
  if (apt.length > 0) {
    lines.push(`RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${apt.join(' ')} && apt-get clean && rm -rf /var/lib/apt/lists/*`)
  }
  if (extra != null) {
    if (/^\s*FROM\s/im.test(extra)) throw new InvalidEnvironmentError('the Dockerfile given with --file has a FROM line; leave it out: the base is the environment named by --from')
    lines.push(extra.trimEnd())
  }
  return lines.join('\n') + '\n'
}

async function addFile (context: Pack, name: string, path: string, size: number, mode: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = context.entry({ name, size, mode, mtime: new Date(0) }, err => { if (err != null) reject(err); else resolve() })
    const source = createReadStream(path)
    source.on('error', reject)
    source.pipe(sink as unknown as NodeJS.WritableStream)
  })
}

/**
 * A build context: the folder's files (those `.dockerignore` does not exclude; symlinks kept
 * as links) and the generated Dockerfile.
 */
async function buildContext (folder: string | null, dockerfile: string): Promise<Readable> {
  const context = pack()
  const fill = async (): Promise<void> => {
    if (folder != null) {
      const rules = ignore()
      try {
        rules.add(await readFile(join(folder, '.dockerignore'), 'utf8'))
      } catch (err: any) {
        if (err?.code !== 'ENOENT') throw err
      }
      const tree = await walkTree(folder, { ignore: rules })
      for (const entry of tree.entries) {
        if (entry.kind === 'dir') context.entry({ name: `${entry.path}/`, type: 'directory', mode: 0o755, mtime: new Date(0) })
        else if (entry.kind === 'symlink') context.entry({ name: entry.path, type: 'symlink', linkname: entry.target, mtime: new Date(0) })
        else await addFile(context, entry.path, entry.absolute, entry.size, 0o644)
      }
    }
    context.entry({ name: GENERATED, mode: 0o644, mtime: new Date(0) }, dockerfile)
    context.finalize()
  }
  fill().catch((err: Error) => { context.destroy(err) })
  return context as unknown as Readable
}

/**
 * `floe env build NAME --from ENV [--apt PKG…] [--file Dockerfile]`: an image built on an
 * environment held here (nothing is pulled), labelled as NAME, and published. The build has
 * no network unless it installs packages or runs a Dockerfile of the user's (then the host's).
 */
export async function buildEnvironment (components: BuildComponents, request: BuildRequest, options: PublishOptions = {}): Promise<EnvironmentRecord> {
  const name = checkEnvironmentName(request.name)
  const apt = request.apt ?? []
  let extra: string | null = null
  if (request.file != null) {
    try {
      const text = await readFile(request.file, 'utf8')
      if (Buffer.byteLength(text) > MAX_DOCKERFILE_BYTES) throw new InvalidEnvironmentError(`${request.file} is over ${MAX_DOCKERFILE_BYTES} bytes`)
      extra = text
    } catch (err: any) {
      if (err?.name === 'InvalidEnvironmentError') throw err
      throw new InvalidEnvironmentError(err?.code === 'ENOENT' ? `${request.file} does not exist` : `cannot read ${request.file}: ${err?.message ?? err}`)
    }
  }
  // checked before the base is resolved (which may load it): a bad request costs nothing
  environmentDockerfile('base', apt, extra)
  const base = await components.resolveBase(request.from, options)
  const dockerfile = environmentDockerfile(base, apt, extra)
  const what = [request.from, ...(apt.length > 0 ? [`apt ${apt.join(' ')}`] : []), ...(request.file != null ? [request.file] : [])].join(' + ')
  const labels: Record<string, string> = {
    [ENVIRONMENT_LABEL]: name,
    [DESCRIPTION_LABEL]: request.description ?? `built on ${what}`,
    ...(request.accelerator != null ? { [ACCELERATOR_LABEL]: request.accelerator } : {})
  }
  options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message: `building ${name} on ${what}` })
  const imageId = await buildImage(await components.docker(), await buildContext(request.file == null ? null : dirname(request.file), dockerfile), {
    dockerfile: GENERATED,
    labels,
    network: apt.length > 0 || extra != null ? 'host' : 'none',
    ...(request.buildArgs != null ? { buildArgs: request.buildArgs } : {}),
    signal: options.signal,
    onLine: line => options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message: line })
  })
  return await publishImage(components, { image: imageId, name, origin: 'built', source: request.source ?? what }, options)
}
