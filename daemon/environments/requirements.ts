import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildEnvironment, type BuildComponents } from './build.js'
import { InvalidEnvironmentError } from './errors.js'
import type { PublishOptions } from './publish.js'
import type { EnvironmentRecord, EnvironmentRecords } from './records.js'

/** Where pip looks for packages when a derived environment is built (config.json `pip`). */
export interface PipSettings {
  indexUrl?: string
  extraIndexUrls?: string[]
  trustedHosts?: string[]
}

/**
 * What a job needs installed on its environment: a requirements file for pip (from the code
 * folder's requirements.txt, `floe run --requirements FILE`, or later a run config's `pip:`
 * list written as one) and Debian packages for apt.
 */
export interface Dependencies {
  /** the text of a pip requirements file, and where it came from (for messages) */
  pip?: { text: string, from: string }
  apt?: string[]
}

export interface DerivedComponents extends BuildComponents {
  records: EnvironmentRecords
  /** where the build context is written (the daemon's home) */
  workRoot: string
  pip: PipSettings
}

export const MAX_REQUIREMENTS_BYTES = 1024 * 1024

/** Reads a requirements file given by path: a clear error when it is missing, not a file, or too big. */
export async function readRequirements (path: string): Promise<{ text: string, from: string }> {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new InvalidEnvironmentError(`${path} is not a file: --requirements takes a pip requirements file`)
    if (info.size > MAX_REQUIREMENTS_BYTES) throw new InvalidEnvironmentError(`${path} is over ${MAX_REQUIREMENTS_BYTES} bytes: is it a requirements file?`)
    return { text: await readFile(path, 'utf8'), from: path }
  } catch (err: any) {
    if (err?.name === 'InvalidEnvironmentError') throw err
    throw new InvalidEnvironmentError(err?.code === 'ENOENT' ? `${path} does not exist (--requirements FILE)` : `cannot read ${path}: ${err?.message ?? err}`)
  }
}

/** The requirements.txt of a code folder, or null when it has none. */
export async function folderRequirements (folder: string): Promise<{ text: string, from: string } | null> {
  const path = join(folder, 'requirements.txt')
  const exists = await stat(path).then(info => info.isFile(), () => false)
  return exists ? await readRequirements(path) : null
}

/** A pip requirements file with nothing to install (only blanks and comments). */
function emptyRequirements (text: string): boolean {
  return text.split('\n').every(line => line.replace(/#.*/, '').trim() === '')
}

/**
 * The cache key of a derived environment: the base image's id, the requirements' sha256,
 * the apt packages and the index pip uses. The same key is the same environment.
 */
export function dependenciesKey (baseImageId: string, deps: Dependencies, pip: PipSettings): string {
  const requirements = deps.pip == null ? null : createHash('sha256').update(deps.pip.text).digest('hex')
  const apt = [...(deps.apt ?? [])].sort()
  return createHash('sha256').update(JSON.stringify({ base: baseImageId, requirements, apt, pip: deps.pip == null ? null : pip })).digest('hex').slice(0, 12)
}

/** `BASE-req-<12 hex>`: a valid environment name (≤ 64 characters) whatever the base's. */
export function derivedName (base: string, key: string): string {
  return `${base.slice(0, 64 - 17).replace(/[^a-z0-9._-]/g, '-')}-req-${key}`
}

/** Instructions after `FROM base`: pip install -r of the requirements (the apt part is build.ts's). */
const PIP_STEPS = `COPY requirements.txt /tmp/floe-requirements.txt
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
RUN if ! python3 -m pip --version >/dev/null 2>&1; then echo "floe: this environment has no pip (python3 -m pip): build on one that has, e.g. --env python-3.11 (floe env build --recipe python-3.11)" >&2; exit 1; fi \\
 && PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --no-input -r /tmp/floe-requirements.txt \\
 && rm -f /tmp/floe-requirements.txt
`

/**
 * An environment with a job's dependencies installed on `base`: built on this node, where the
 * network is allowed (the build's, not the job's: the job still runs offline), cached by
 * (base image id, requirements hash) under the name `BASE-req-<key>` and published as content
 * like any built environment. `cached` says it was there already.
 */
export async function deriveEnvironment (components: DerivedComponents, base: string, deps: Dependencies, options: PublishOptions = {}): Promise<{ record: EnvironmentRecord, cached: boolean } | null> {
  const pip = deps.pip != null && !emptyRequirements(deps.pip.text) ? deps.pip : undefined
  const apt = deps.apt ?? []
  if (pip == null && apt.length === 0) return null
  const say = (message: string): void => options.onProgress?.({ phase: 'build', bytes: 0, totalBytes: null, message })
  const what = [...(pip != null ? [pip.from] : []), ...(apt.length > 0 ? [`apt ${apt.join(' ')}`] : [])].join(' + ')
  let baseId: string
  try {
    baseId = await components.resolveBase(base, options)
  } catch (err: any) {
    if (err?.name !== 'EnvironmentNotFoundError') throw err
    throw new InvalidEnvironmentError(`${what} is installed into environment ${base} on this machine, which does not hold it: build, pull or publish it here first (floe env build --recipe python-3.11, floe env pull IMAGE), or leave the requirements out (--no-requirements)`)
  }
  const key = dependenciesKey(baseId, { pip, apt }, components.pip)
  const name = derivedName(base, key)
  const held = await components.records.get(name)
  if (held != null) {
    say(`environment for ${what}: cached (${name}, ${held.cid})`)
    return { record: held, cached: true }
  }
  say(`building environment for ${what} on ${base}… (${name})`)
  await mkdir(components.workRoot, { recursive: true })
  const work = await mkdtemp(join(components.workRoot, 'requirements-'))
  try {
    const file = join(work, 'floe-steps')
    await writeFile(file, pip != null ? PIP_STEPS : '')
    if (pip != null) await writeFile(join(work, 'requirements.txt'), pip.text)
    await writeFile(join(work, '.dockerignore'), 'floe-steps\n')
    const buildArgs: Record<string, string> = {}
    if (pip != null && components.pip.indexUrl != null) buildArgs.PIP_INDEX_URL = components.pip.indexUrl
    if (pip != null && (components.pip.extraIndexUrls ?? []).length > 0) buildArgs.PIP_EXTRA_INDEX_URL = (components.pip.extraIndexUrls ?? []).join(' ')
    if (pip != null && (components.pip.trustedHosts ?? []).length > 0) buildArgs.PIP_TRUSTED_HOST = (components.pip.trustedHosts ?? []).join(' ')
    const record = await buildEnvironment(components, {
      name,
      from: base,
      apt,
      file,
      buildArgs,
      description: `${base} with ${what}`,
      source: `${base} + ${what}`
    }, options)
    say(`built environment ${name} (${record.cid})`)
    return { record, cached: false }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * A job's dependencies, from what `floe run` was given: the file of `--requirements`, else the
 * code folder's requirements.txt; none with `--no-requirements`.
 */
export async function jobDependencies (request: { path?: string, pipRequirements?: string, noRequirements?: boolean }): Promise<Dependencies | null> {
  if (request.noRequirements === true) return null
  if (request.pipRequirements != null) return { pip: await readRequirements(request.pipRequirements) }
  if (request.path == null) return null
  const pip = await folderRequirements(request.path)
  return pip == null ? null : { pip }
}
