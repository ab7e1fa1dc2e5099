import { lstat, realpath } from 'node:fs/promises'
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path'
import { ExecutorError } from './errors.js'
import { helperBind } from './helper-binary.js'

import { CODE_MOUNT, HELPER_DIR, HOME_MOUNT, OUTPUT_MOUNT, TMP_MOUNT } from '../../protocol/jobs/spec.js'

export { CODE_MOUNT, OUTPUT_MOUNT, TMP_MOUNT }

/** Whoever holds the engine's socket holds the host; it must never reach a job. */
const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock']
/** Kernel interfaces a bind mount must not cover (mounting over /proc was a runc escape). */
const KERNEL_MOUNTS = ['/proc', '/sys', '/dev']

export interface JobMounts {
  /** the job's own folder: every read-write mount must be a real folder inside it */
  jobRoot: string
  /** the input cache's folder: every input must be a real file or folder inside it */
  inputsRoot: string
  codeDir: string
  outputDir: string
  /** read-write at /tmp (the root file system is read-only) */
  tmpDir: string
  inputs: ReadonlyArray<{ hostPath: string, mount: string }>
  /** a workspace's home, read-write at HOME_MOUNT */
  homeDir?: string
}

/**
 * Docker `Binds` for a job: its code read-write at /code, its output folder read-write at
 * /output, its scratch folder at /tmp, each input read-only at its mount, and the provider's
 * static busybox read-only at /.floe/busybox (helper-binary.ts: one fixed host file, checked
 * there, named by nothing a job or client sends; left out on a host without it). Every host path is
 * proven to lie inside the folder it belongs to (the job's, or the input cache) through real
 * folders only — no component may be a link, so content can never point a mount elsewhere.
 * Everything is checked here although the caller checks too: a refused plan costs an error
 * message, a wrong mount costs the host.
 */
export async function jobBinds (mounts: JobMounts): Promise<string[]> {
  const sockets = await dockerSocketPaths()
  const jobRoot = { given: mounts.jobRoot, root: await ownerRoot(mounts.jobRoot, 'the job folder') }
  const inputsRoot = { given: mounts.inputsRoot, root: await ownerRoot(mounts.inputsRoot, 'the input cache') }
  const rw = async (path: string, what: string): Promise<string> => await provenHostPath(path, jobRoot, what, sockets, { folder: true })
  const binds = [
    `${await rw(mounts.codeDir, 'the code folder')}:${CODE_MOUNT}:rw`,
    `${await rw(mounts.outputDir, 'the output folder')}:${OUTPUT_MOUNT}:rw`,
    `${await rw(mounts.tmpDir, 'the scratch folder')}:${TMP_MOUNT}:rw`
  ]
  if (mounts.homeDir != null) binds.push(`${await rw(mounts.homeDir, 'the home folder')}:${HOME_MOUNT}:rw`)
  const seen = new Set<string>()
  for (const input of mounts.inputs) {
    const mount = checkedMount(input.mount)
    if (seen.has(mount)) throw new ExecutorError(`input mount ${mount} is given twice; each input needs its own mount point`)
    seen.add(mount)
    const host = await provenHostPath(input.hostPath, inputsRoot, `input ${mount}`, sockets, { folder: false })
    binds.push(`${host}:${mount}:ro`)
  }
  const helper = await helperBind()
  if (helper.bind != null) binds.push(helper.bind)
  return binds
}

function checkedMount (mount: string): string {
  if (typeof mount !== 'string' || !posix.isAbsolute(mount)) {
    throw new ExecutorError(`input mount ${JSON.stringify(mount)} is not an absolute path; inputs mount at a path such as /data`)
  }
  if (mount.includes(':') || mount.includes(',')) {
    throw new ExecutorError(`input mount ${mount} contains ':' or ','; Docker cannot mount such a path`)
  }
  // A trailing slash is harmless and dropped; '.', '..' and '//' are refused rather than guessed at.
  const trimmed = mount.replace(/\/+$/, '')
  const normal = trimmed === '' ? '/' : posix.normalize(trimmed)
  if (trimmed !== '' && normal !== trimmed) {
    throw new ExecutorError(`input mount ${mount} is not a plain path (it has '.', '..' or '//'); write it as ${normal}`)
  }
  if (normal === '/') throw new ExecutorError('an input cannot be mounted at /; mount it at a path such as /data')
  if (normal === TMP_MOUNT || normal === HOME_MOUNT) throw new ExecutorError(`input mount ${normal} is the job's own ${normal === TMP_MOUNT ? 'scratch' : 'home'} folder; mount it inside, such as ${normal}/data`)
  for (const reserved of [CODE_MOUNT, OUTPUT_MOUNT]) {
    if (within(normal, reserved)) throw new ExecutorError(`input mount ${normal} is ${reserved} or inside it, which is reserved for the job's ${reserved.slice(1)}`)
  }
  if (within(normal, HELPER_DIR)) throw new ExecutorError(`input mount ${normal} is inside ${HELPER_DIR}, which holds the provider's own tools; mount it at a path such as /data`)
  for (const kernel of KERNEL_MOUNTS) {
    if (within(normal, kernel)) throw new ExecutorError(`input mount ${normal} is inside ${kernel}, which belongs to the kernel`)
  }
  if (DOCKER_SOCKETS.includes(normal)) throw new ExecutorError(`input mount ${normal} is the Docker socket's path; jobs never get a Docker socket`)
  return normal
}

/**
 * A folder the owner configured (the daemon's home, which may sit behind a link the owner
 * made): resolved once, as the trusted root below which nothing is followed.
 */
async function ownerRoot (path: string, what: string): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new ExecutorError(`${what}: host path ${JSON.stringify(path)} is not absolute`)
  try {
    return await realpath(path)
  } catch (err: any) {
    throw new ExecutorError(`${what}: host path ${path} cannot be resolved (${err?.code ?? err?.message})`, { cause: err })
  }
}

/**
 * `path`, proven to lie inside `root` through real folders: it is written relative to the
 * root (after resolving the root alone), and every component below the root is lstat'ed,
 * never followed — a link anywhere on the way is refused, and so is the root itself.
 */
async function provenHostPath (path: string, { given, root }: { given: string, root: string }, what: string, sockets: readonly string[], options: { folder: boolean }): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new ExecutorError(`${what}: host path ${JSON.stringify(path)} is not absolute`)
  const rel = relative(resolve(given), resolve(path))
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new ExecutorError(`${what}: host path ${path} is not inside ${given}`)
  let current = root
  const parts = rel.split(sep)
  for (const [i, part] of parts.entries()) {
    current = join(current, part)
    let stats
    try {
      stats = await lstat(current)
    } catch (err: any) {
      if (err?.code === 'ENOENT') throw new ExecutorError(`${what}: host path ${current} does not exist`)
      throw new ExecutorError(`${what}: host path ${current} cannot be checked (${err?.code ?? err?.message})`, { cause: err })
    }
    const last = i === parts.length - 1
    if (stats.isSymbolicLink()) throw new ExecutorError(`${what}: host path ${current} is a symbolic link; a job's mounts never follow links`)
    if (!last && !stats.isDirectory()) throw new ExecutorError(`${what}: host path ${current} is not a folder`)
    if (last && !stats.isDirectory() && (options.folder || !stats.isFile())) throw new ExecutorError(`${what}: host path ${current} is not a ${options.folder ? 'folder' : 'file or folder'}`)
  }
  if (current.includes(':') || current.includes(',')) throw new ExecutorError(`${what}: host path ${current} contains ':' or ','; Docker cannot mount such a path`)
  // A folder holding the socket hands it over as surely as the socket itself.
  if (sockets.some(socket => within(socket, current))) throw new ExecutorError(`${what}: host path ${path} is or holds the Docker socket; jobs never get a Docker socket`)
  return current
}

/** The socket's well-known paths, and where they lead (on most hosts /var/run is a link to /run). */
async function dockerSocketPaths (): Promise<string[]> {
  const paths = new Set(DOCKER_SOCKETS)
  for (const socket of DOCKER_SOCKETS) {
    try {
      paths.add(await realpath(socket))
    } catch (err: any) {
      // A host without the socket at this path: the literal path is still refused.
      if (err?.code !== 'ENOENT') throw err
    }
  }
  return [...paths]
}

/** Whether `path` is `folder` or inside it. */
function within (path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith('/') ? folder : `${folder}/`)
}
