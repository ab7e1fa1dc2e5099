import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gitClone } from '../../../../daemon/workspaces/git-clone.js'

const exec = promisify(execFile)
let root = ''
let bare = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'floe-git-unit-'))
  bare = join(root, 'repo.git')
  const work = join(root, 'work')
  await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare])
  await exec('git', ['init', '--quiet', '--initial-branch=main', work])
  await writeFile(join(work, 'README'), 'hello\n')
  // a hook committed as a file is content, never installed as a hook
  await exec('mkdir', ['-p', join(work, 'hooks')])
  await writeFile(join(work, 'hooks', 'post-checkout'), `#!/bin/sh\ntouch ${join(root, 'hook-ran')}\n`, { mode: 0o755 })
  await exec('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', 'add', '.'], { cwd: work })
  await exec('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', 'commit', '--quiet', '-m', 'one'], { cwd: work })
  await exec('git', ['push', '--quiet', bare, 'main'], { cwd: work })
})
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

describe('--git: cloning a workspace\'s code', () => {
  it('clones depth 1 at the default branch, runs no hook, and its folder goes away on remove', async () => {
    const clone = await gitClone(`file://${bare}`, undefined)
    expect(await readFile(join(clone.dir, 'README'), 'utf8')).toBe('hello\n')
    expect((await exec('git', ['rev-list', '--count', 'HEAD'], { cwd: clone.dir })).stdout.trim()).toBe('1')
    expect((await readdir(join(clone.dir, '.git', 'hooks')).catch(() => [])).length).toBe(0)
    expect(existsSync(join(root, 'hook-ran'))).toBe(false)
    await clone.remove()
    expect(existsSync(clone.dir)).toBe(false)
  })

  it('refuses what would be read as an option or run a command, with one line', async () => {
    const canary = join(root, 'pwned')
    for (const [url, ref] of [
      [`--upload-pack=touch ${canary}`, undefined],
      [`file://${bare}`, `--upload-pack=touch ${canary}`],
      [`ext::sh -c touch% ${canary}`, undefined],
      [`file://${bare}`, 'a b'],
      [`file://${bare}`, 'main:refs/heads/x']
    ] as Array<[string, string | undefined]>) {
      await expect(gitClone(url, ref), `${url} ${ref ?? ''}`).rejects.toThrow(/is not a git URL|is not a branch, tag or commit/)
    }
    // a transport that runs a command is off even when git would otherwise allow it
    await expect(gitClone(`ext::sh -c "touch ${canary}"`, undefined)).rejects.toThrow(/is not a git URL/)
    expect(existsSync(canary)).toBe(false)
  })

  it('an unknown ref and an unreachable URL are one-line errors that say which', async () => {
    await expect(gitClone(`file://${bare}`, 'nope')).rejects.toThrow(/^file:\/\/\S+ has no branch, tag or commit "nope" \(a commit must be given in full, 40 hex digits\)$/)
    await expect(gitClone(`file://${join(root, 'none.git')}`, undefined)).rejects.toThrow(/^could not fetch file:\/\/\S+: '\S+none\.git' does not appear to be a git repository$/)
    // credentials in the URL are never repeated
    const failed = await gitClone('http://user:secret@127.0.0.1:9/r.git', undefined).catch((err: Error) => err)
    expect((failed as Error).message).toMatch(/^could not fetch http:\/\/127\.0\.0\.1:9\/r\.git: unable to access 'http:\/\/127\.0\.0\.1:9\/r\.git\/'/)
    expect((failed as Error).message).not.toContain('secret')
  })
})
