import { realpath } from 'node:fs/promises'
import { isAbsolute, posix } from 'node:path'
import { ExecutorError } from './errors.js'

import { CODE_MOUNT, HOME_MOUNT, OUTPUT_MOUNT } from '../../protocol/jobs/spec.js'

export { CODE_MOUNT, OUTPUT_MOUNT }

/** Whoever holds the engine's socket holds the host; it must never reach a job. */
const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock']
/** Kernel interfaces a bind mount must not cover (mounting over /proc was a runc escape). */
const KERNEL_MOUNTS = ['/proc', '/sys', '/dev']

export interface JobMounts {
  codeDir: string
  outputDir: string
  inputs: ReadonlyArray<{ hostPath: string, mount: string }>
  /** a workspace's home, read-write at HOME_MOUNT */
  homeDir?: string
}

/**
 * Docker `Binds` for a job: its code read-write at /code, its output folder read-write at
 * /output, each input read-only at its mount. Everything is checked here although the caller
 * checks too: a refused plan costs an error message, a wrong mount costs the host.
 */
export async function jobBinds (mounts: JobMounts): Promise<string[]> {
  const sockets = await dockerSocketPaths()
  const code = await checkedHostPath(mounts.codeDir, 'the code folder', sockets)
  const output = await checkedHostPath(mounts.outputDir, 'the output folder', sockets)
  const binds = [`${code}:${CODE_MOUNT}:rw`, `${output}:${OUTPUT_MOUNT}:rw`]
  if (mounts.homeDir != null) binds.push(`${await checkedHostPath(mounts.homeDir, 'the home folder', sockets)}:${HOME_MOUNT}:rw`)
  const seen = new Set<string>()
  for (const input of mounts.inputs) {
    const mount = checkedMount(input.mount)
    if (seen.has(mount)) throw new ExecutorError(`input mount ${mount} is given twice; each input needs its own mount point`)
    seen.add(mount)
    const host = await checkedHostPath(input.hostPath, `input ${mount}`, sockets)
    binds.push(`${host}:${mount}:ro`)
  }
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
  for (const reserved of [CODE_MOUNT, OUTPUT_MOUNT]) {
    if (within(normal, reserved)) throw new ExecutorError(`input mount ${normal} is ${reserved} or inside it, which is reserved for the job's ${reserved.slice(1)}`)
  }
  for (const kernel of KERNEL_MOUNTS) {
    if (within(normal, kernel)) throw new ExecutorError(`input mount ${normal} is inside ${kernel}, which belongs to the kernel`)
  }
  if (DOCKER_SOCKETS.includes(normal)) throw new ExecutorError(`input mount ${normal} is the Docker socket's path; jobs never get a Docker socket`)
  return normal
}

/** The host path, resolved through symbolic links, so that what is checked is what Docker mounts. */
async function checkedHostPath (path: string, what: string, sockets: readonly string[]): Promise<string> {
  if (typeof path !== 'string' || !isAbsolute(path)) throw new ExecutorError(`${what}: host path ${JSON.stringify(path)} is not absolute`)
  let real: string
  try {
    real = await realpath(path)
  } catch (err: any) {
    if (err?.code === 'ENOENT') throw new ExecutorError(`${what}: host path ${path} does not exist`)
    throw new ExecutorError(`${what}: host path ${path} cannot be resolved (${err?.code ?? err?.message})`, { cause: err })
  }
  if (real.includes(':') || real.includes(',')) throw new ExecutorError(`${what}: host path ${real} contains ':' or ','; Docker cannot mount such a path`)
  // A folder holding the socket hands it over as surely as the socket itself.
  if (sockets.some(socket => within(socket, real))) throw new ExecutorError(`${what}: host path ${path} is or holds the Docker socket; jobs never get a Docker socket`)
  return real
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
