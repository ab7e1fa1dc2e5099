import { lstat, realpath } from 'node:fs/promises'
import { dirname } from 'node:path'
import { HELPER_BINARY } from '../../protocol/jobs/spec.js'
import { isDynamicElf } from '../environments/recipes.js'

export { HELPER_BINARY }

/**
 * The host file mounted read-only at HELPER_BINARY in every container: Debian's static
 * busybox (busybox-static). Through it a provider forwards a port (`busybox nc`) or probes
 * one (`busybox sh`) in any image, even one without a shell — and under gVisor, where the
 * container's network namespace cannot be entered from the host. The path is this constant
 * alone: nothing a job or a client sends can name another host file.
 */
export const HOST_BUSYBOX = '/bin/busybox'

export type HelperCheck = { bind: string, problem?: undefined } | { bind?: undefined, problem: string }

/**
 * Whether `path` may be mounted into jobs, and the Docker bind that does it: a regular file
 * (its links resolved once, here), owned by root and writable by root alone, in folders
 * owned by root and writable by root alone (no one else could swap it between checks and
 * mounts), without set-user or set-group bits, statically linked (it runs in an image
 * without a loader). The bind is read-only: the kernel (or gVisor's gofer) refuses every
 * write from the container, and `no-new-privileges` with no capabilities make the file's
 * mode meaningless inside.
 */
export async function checkHelper (path: string): Promise<HelperCheck> {
  let real: string
  try {
    real = await realpath(path)
  } catch (err: any) {
    return { problem: `${path} is missing (${err?.code ?? err?.message}): install Debian's busybox-static` }
  }
  const stats = await lstat(real)
  if (!stats.isFile()) return { problem: `${real} is not a regular file` }
  if (stats.uid !== 0 || (stats.mode & 0o022) !== 0) return { problem: `${real} is not owned and writable by root alone` }
  if ((stats.mode & 0o6000) !== 0) return { problem: `${real} is set-user-id or set-group-id` }
  for (let folder = dirname(real); ; folder = dirname(folder)) {
    const dir = await lstat(folder)
    if (dir.uid !== 0 || (dir.mode & 0o022) !== 0) return { problem: `${folder}, which holds ${real}, is not owned and writable by root alone` }
    if (folder === '/') break
  }
  try {
    if (await isDynamicElf(real)) return { problem: `${real} is linked dynamically: install Debian's busybox-static` }
  } catch (err: any) {
    return { problem: `${real}: ${err?.message ?? err}` }
  }
  if (real.includes(':') || real.includes(',')) return { problem: `${real} contains ':' or ','; Docker cannot mount such a path` }
  return { bind: `${real}:${HELPER_BINARY}:ro` }
}

let checked: Promise<HelperCheck> | undefined

/** HOST_BUSYBOX, checked once per process (a provider's host does not change under it). */
export async function helperBind (): Promise<HelperCheck> {
  checked ??= checkHelper(HOST_BUSYBOX)
  return await checked
}
