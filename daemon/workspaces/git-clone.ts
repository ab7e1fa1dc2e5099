import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WorkspaceGitError } from './errors.js'

/** How long a clone may take before it is given up. */
const CLONE_TIMEOUT_MS = 5 * 60_000
/** The most a git command may print (its errors are cut to one line anyway). */
const MAX_OUTPUT_BYTES = 1024 * 1024

/**
 * Config that holds for every git command here: no hook runs (none is installed, and
 * hooksPath points nowhere), no transport that runs a command (`ext::`), no submodules, no
 * prompt for credentials (a private repository fails instead of waiting), no LFS or other
 * smudge filters the user's config may name.
 */
const SAFE_CONFIG = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'protocol.ext.allow=never',
  '-c', 'submodule.recurse=false',
  '-c', 'core.symlinks=true',
  '-c', 'filter.lfs.smudge=', '-c', 'filter.lfs.process=', '-c', 'filter.lfs.required=false',
  '-c', 'advice.detachedHead=false'
]

/** A URL as errors show it: without the credentials it may carry (`https://user:token@…`). */
const shown = (url: string): string => url.replace(/\/\/[^/@\s]*@/g, '//')

async function git (args: string[], cwd: string, signal?: AbortSignal): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('git', [...SAFE_CONFIG, ...args], {
      cwd,
      timeout: CLONE_TIMEOUT_MS,
      maxBuffer: MAX_OUTPUT_BYTES,
      ...(signal != null ? { signal } : {}),
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes', GIT_LFS_SKIP_SMUDGE: '1' }
    }, (err, stdout, stderr) => {
      if (err == null) return resolve(stdout)
      if ((err as any).code === 'ENOENT') return reject(new WorkspaceGitError('git is not installed on the machine of this daemon; install it (e.g. apt-get install git) to start a workspace with --git'))
      // git's first "fatal:" line says why; a URL's credentials are never echoed
      const lines = stderr.split('\n').map(l => l.trim()).filter(Boolean)
      const fatal = lines.find(l => l.startsWith('fatal:') || l.startsWith('error:')) ?? lines.at(-1) ?? err.message
      reject(new WorkspaceGitError(shown(fatal.replace(/^(fatal|error):\s*/, ''))))
    })
  })
}

/**
 * A depth-1 copy of `url` at `ref` (a branch, tag or commit; none: the default branch) in a
 * new temporary folder: what `floe workspace start --git` snapshots as the workspace's /code.
 * No submodules, no hooks run. The caller removes the folder (`remove`).
 */
export async function gitClone (url: string, ref: string | undefined, signal?: AbortSignal): Promise<{ dir: string, commit: string, remove: () => Promise<void> }> {
  if (url.startsWith('-') || /^ext::/i.test(url)) throw new WorkspaceGitError(`"${shown(url)}" is not a git URL`)
  if (ref != null && (ref.startsWith('-') || ref.trim() === '' || /[\s~^:?*[\\]/.test(ref))) throw new WorkspaceGitError(`"${ref}" is not a branch, tag or commit`)
  const dir = await mkdtemp(join(tmpdir(), 'floe-git-'))
  const remove = async (): Promise<void> => { await rm(dir, { recursive: true, force: true }) }
  try {
    await git(['init', '--quiet', '--template=', dir], dir, signal)
    try {
      await git(['fetch', '--quiet', '--depth=1', '--no-tags', '--no-recurse-submodules', '--', url, ref ?? 'HEAD'], dir, signal)
    } catch (err: any) {
      const why = String(err?.message ?? err)
      if (ref != null && /couldn't find remote ref|not our ref|unadvertised object|no such remote ref|remote error: upload-pack: not our ref|invalid refspec/i.test(why)) {
        throw new WorkspaceGitError(`${shown(url)} has no branch, tag or commit "${ref}" (a commit must be given in full, 40 hex digits)`)
      }
      if (ref == null && /couldn't find remote ref HEAD/i.test(why)) throw new WorkspaceGitError(`${shown(url)} has no default branch (its HEAD names none); name a branch, tag or commit with --ref`)
      throw new WorkspaceGitError(`could not fetch ${shown(url)}${ref != null ? ` at ${ref}` : ''}: ${why}`)
    }
    await git(['checkout', '--quiet', '--detach', 'FETCH_HEAD'], dir, signal)
    const commit = (await git(['rev-parse', 'HEAD'], dir, signal)).trim()
    return { dir, commit, remove }
  } catch (err) {
    await remove()
    throw err
  }
}
