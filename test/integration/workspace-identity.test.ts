import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { removeContainers, removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, addr, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

const exec = promisify(execFile)
const r = resources()
afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

/** A client connected to `n` providers that it sees in its market. */
async function market (n: number): Promise<{ client: RunningDaemon, providers: RunningDaemon[] }> {
  const providers: RunningDaemon[] = []
  for (let i = 0; i < n; i++) providers.push(await r.start('--provider'))
  const client = await r.start()
  for (const p of providers) await floeJson(['connect', await addr(p), '--home', client.home])
  await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(n)
  return { client, providers }
}

async function untilRunning (client: RunningDaemon, ref: string): Promise<any> {
  await expect.poll(async () => (await floeJson(['status', ref, '--home', client.home])).state, { timeout: 30_000 }).toBe('running')
  return await floeJson(['status', ref, '--home', client.home])
}

/** `floe shell WS -- sh -c SCRIPT`, its output with the terminal's \r\n as \n */
async function sh (client: RunningDaemon, ws: string, script: string): Promise<{ code: number | null, out: string, err: string }> {
  const result = await floe(['shell', ws, '--home', client.home, '--', 'sh', '-c', script], { timeoutMs: 60_000 })
  return { code: result.code, out: result.stdout.replace(/\r\n/g, '\n'), err: result.stderr }
}

describe('workspace identity', () => {
  it('one name for a whole life: every command takes it, a restart on another provider keeps it (and the /code edits), the history lists each run', { timeout: 180_000 }, async () => {
    const { client, providers: [first, second] } = await market(2)
    const code = await r.codeFolder({ 'train.py': 'print("v1")\n' })
    const home = ['--home', client.home]

    const started = await floeJson(['workspace', 'start', 'dev', '--path', code, '--provider', first!.endpoint.peerId, ...home])
    expect(started.message).toBe('dev')
    const run1 = await untilRunning(client, 'dev')
    expect(run1.jobId).toBe(started.jobId)
    const qualified = `${started.project as string}/ws/dev`

    // edits in /code and in the home, made through the name
    const edit = await sh(client, 'dev', 'echo \'print("edited in the workspace")\' > /code/train.py && echo fresh > /code/new.txt && echo note > notes.txt')
    expect(edit.code).toBe(0)

    // a second "dev" is refused, naming the one there is and how to continue it
    const twice = await floe(['workspace', 'start', 'dev', '--path', code, ...home])
    expect(twice.code).toBe(1)
    expect(twice.stderr.trim().split('\n')).toHaveLength(1)
    expect(twice.stderr).toContain(`workspace ${qualified} exists already (running, latest run ${started.ref as string}); continue it with floe workspace restart dev`)
    // names that would read as a job are refused with the rule
    for (const bad of ['42', 'a/b', 'x y', 'ab'.repeat(16)]) {
      const refused = await floe(['workspace', 'start', bad, '--path', code, ...home])
      expect(refused.code, bad).toBe(1)
      expect(refused.stderr, bad).toMatch(/cannot name a workspace: a workspace name starts with a letter/)
    }
    const unknown = await floe(['status', 'nope', ...home])
    expect(unknown.stderr).toMatch(/no workspace nope \(and no job: a job is a number\); see floe workspace ls/)
    const port = await floe(['workspace', 'port', 'dev', '9099', ...home])
    expect(port.stderr).toMatch(/nothing listens on port 9099 inside workspace dev; start the server there first \(e\.g\. in floe shell dev\)/)

    // stop by name: the home and /code are saved together
    const stopped = await floeJson(['workspace', 'stop', 'dev', ...home])
    expect(stopped).toMatchObject({ jobId: started.jobId, state: 'stopped', outputCid: expect.any(String) })
    const closed = await floe(['shell', 'dev', ...home, '--', 'true'])
    expect(closed.stderr).toMatch(/workspace dev is stopped; restart it with floe workspace restart dev/)

    // restart by name, on the other provider: the same workspace, a new run
    const moved = await floeJson(['workspace', 'restart', 'dev', '--provider', second!.endpoint.peerId, ...home])
    expect(moved.message).toBe('dev')
    expect(moved.jobId).not.toBe(started.jobId)
    const run2 = await untilRunning(client, qualified)
    expect(run2).toMatchObject({ jobId: moved.jobId, provider: second!.endpoint.peerId })
    const read = await sh(client, 'dev', 'cat /code/train.py /code/new.txt notes.txt')
    expect(read).toMatchObject({ code: 0, out: 'print("edited in the workspace")\nfresh\nnote\n' })
    // the folder it started from is as it was: /code lives with the workspace
    expect(await readFile(join(code, 'train.py'), 'utf8')).toBe('print("v1")\n')

    // the qualified form works from any folder, for every command
    expect((await floeJson(['status', qualified, ...home])).jobId).toBe(moved.jobId)
    const logs = await floe(['logs', 'dev', ...home])
    expect(logs.code).toBe(0)
    expect(logs.stdout + logs.stderr).toMatch(/home restored from/)
    // a workspace's next run is its restart, never a rerun (which would start from the old save)
    const rerun = await floe(['rerun', 'dev', ...home])
    expect(rerun.stderr).toMatch(/workspace dev is a workspace, not a job to rerun; continue it with floe workspace restart dev/)

    // an earlier run does not fork the workspace
    const fork = await floe(['workspace', 'restart', started.ref, ...home])
    expect(fork.stderr).toMatch(new RegExp(`${started.ref as string} is an earlier run of workspace dev \\(its latest is ${moved.ref as string}\\); restart the workspace: floe workspace restart dev`))

    // one row per workspace
    const listed = await floeJson(['workspace', 'ls', ...home])
    expect(listed.workspaces.map((w: any) => [w.message, w.jobId])).toEqual([['dev', moved.jobId]])
    const table = await floe(['workspace', 'ls', ...home])
    expect(table.stdout).toContain(qualified)

    const last = await floeJson(['workspace', 'stop', qualified, ...home])
    // the output of the workspace: its home and its /code
    const out = join(r.folder(await tempHome('floe-out-')), 'dev')
    expect((await floe(['output', 'dev', out, ...home])).code).toBe(0)
    expect(await readFile(join(out, 'code', 'train.py'), 'utf8')).toBe('print("edited in the workspace")\n')
    expect(await readFile(join(out, 'home', 'notes.txt'), 'utf8')).toBe('note\n')

    const history = await floeJson(['workspace', 'history', 'dev', ...home])
    expect(history.workspace).toBe(qualified)
    expect(history.runs).toEqual([
      expect.objectContaining({ jobId: started.jobId, job: started.ref, provider: first!.endpoint.peerId, state: 'stopped', endedAt: expect.any(String), home: stopped.outputCid, from: null }),
      expect.objectContaining({ jobId: moved.jobId, job: moved.ref, provider: second!.endpoint.peerId, state: 'stopped', endedAt: expect.any(String), home: last.outputCid, from: moved.spec.workspace.home })
    ])
    const printed = await floe(['workspace', 'history', 'dev', ...home])
    expect(printed.stdout).toContain(`${qualified}: 2 runs`)
  })

  it('a /code edit saved while it runs survives the loss of its provider', { timeout: 150_000 }, async () => {
    const { client, providers: [doomed, spare] } = await market(2)
    const code = await r.codeFolder({ 'model.txt': 'base\n' })
    const home = ['--home', client.home]
    const ws = await floeJson(['workspace', 'start', 'periodic', '--path', code, '--provider', doomed!.endpoint.peerId, '--snapshot-every', '2s', ...home])
    await untilRunning(client, 'periodic')
    expect((await sh(client, 'periodic', 'echo tuned > /code/model.txt')).code).toBe(0)
    // a periodic save that holds the edit reaches the client
    const saves = r.folder(await tempHome('floe-saves-'))
    await expect.poll(async () => {
      const saved = (await floeJson(['status', 'periodic', ...home])).homeCid
      if (saved == null) return ''
      const dest = join(saves, saved)
      if (!existsSync(dest) && (await floe(['data', 'get', saved, dest, ...home])).code !== 0) return ''
      return await readFile(join(dest, 'code', 'model.txt'), 'utf8')
    }, { timeout: 30_000, interval: 1000 }).toBe('tuned\n')
    await doomed!.stop('SIGKILL')
    await expect.poll(async () => (await floeJson(['status', 'periodic', ...home])).state, { timeout: 40_000, interval: 1000 }).toBe('lost')
    const moved = await floeJson(['workspace', 'restart', 'periodic', '--provider', spare!.endpoint.peerId, ...home])
    expect(moved.message).toBe('periodic')
    await untilRunning(client, 'periodic')
    const restored = await sh(client, 'periodic', 'cat /code/model.txt')
    expect(restored, restored.err).toMatchObject({ code: 0, out: 'tuned\n' })
    await floeJson(['workspace', 'stop', 'periodic', ...home])
    expect((await floeJson(['workspace', 'history', 'periodic', ...home])).runs.map((run: any) => run.state)).toEqual(['lost', 'stopped'])
    expect(ws.jobId).not.toBe(moved.jobId)
    // the killed provider's container runs on until that daemon comes back; here it does not
    const { stdout } = await exec('docker', ['ps', '-a', '-q', '--filter', `label=org.floe.provider=${doomed!.endpoint.peerId}`])
    const orphans = stdout.split('\n').filter(Boolean)
    await removeContainers(orphans)
  })

  it('--git URL [--ref] makes /code from a git repository: a branch, a commit; unreachable and unknown refs are one-line errors', { timeout: 120_000 }, async () => {
    const { client, providers: [provider] } = await market(1)
    const home = ['--home', client.home]
    // a bare repository with two branches, made here
    const root = r.folder(await tempHome('floe-git-'))
    const bare = join(root, 'repo.git')
    const work = join(root, 'work')
    const git = async (...args: string[]): Promise<string> => (await exec('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=test', ...args], { cwd: work })).stdout.trim()
    await exec('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare])
    await exec('git', ['init', '--quiet', '--initial-branch=main', work])
    await writeFile(join(work, 'README'), 'from main\n')
    await git('add', '.')
    await git('commit', '--quiet', '-m', 'one')
    const first = await git('rev-parse', 'HEAD')
    await writeFile(join(work, 'README'), 'from main, second\n')
    await git('commit', '--quiet', '-am', 'two')
    await git('push', '--quiet', bare, 'main')
    await git('checkout', '--quiet', '-b', 'feature')
    await writeFile(join(work, 'README'), 'from feature\n')
    await git('commit', '--quiet', '-am', 'three')
    await git('push', '--quiet', bare, 'feature')
    const url = `file://${bare}`

    const ws = await floeJson(['workspace', 'start', 'fromgit', '--git', url, '--provider', provider!.endpoint.peerId, ...home])
    await untilRunning(client, 'fromgit')
    expect(await sh(client, 'fromgit', 'cat /code/README; ls -1a /code')).toMatchObject({ code: 0, out: 'from main, second\n.\n..\nREADME\n' })
    await floeJson(['workspace', 'stop', ws.message, ...home])
    // one at a time: the provider's cores fit one workspace
    await floeJson(['workspace', 'start', 'feat', '--git', url, '--ref', 'feature', '--provider', provider!.endpoint.peerId, ...home])
    await untilRunning(client, 'feat')
    expect((await sh(client, 'feat', 'cat /code/README')).out).toBe('from feature\n')
    await floeJson(['workspace', 'stop', 'feat', ...home])
    await floeJson(['workspace', 'start', 'old', '--git', url, '--ref', first, '--provider', provider!.endpoint.peerId, ...home])
    await untilRunning(client, 'old')
    expect((await sh(client, 'old', 'cat /code/README')).out).toBe('from main\n')
    await floeJson(['workspace', 'stop', 'old', ...home])

    const missing = await floe(['workspace', 'start', 'x1', '--git', `file://${join(root, 'none.git')}`, ...home])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toMatch(/could not fetch file:\/\/\S+none\.git: '\S+none\.git' does not appear to be a git repository/)
    const unreachable = await floe(['workspace', 'start', 'x2', '--git', 'http://127.0.0.1:9/repo.git', ...home])
    expect(unreachable.stderr).toMatch(/could not fetch http:\/\/127\.0\.0\.1:9\/repo\.git: .*(Failed to connect|Connection refused)/)
    const noRef = await floe(['workspace', 'start', 'x3', '--git', url, '--ref', 'nope', ...home])
    expect(noRef.stderr.trim()).toMatch(/has no branch, tag or commit "nope" \(a commit must be given in full, 40 hex digits\)$/)
    const both = await floe(['workspace', 'start', 'x4', '--git', url, '--path', root, ...home])
    expect(both.stderr).toMatch(/give the code as --path or --git, not both/)
    // none of them took its name
    expect((await floeJson(['workspace', 'ls', ...home])).workspaces.map((w: any) => w.message).sort()).toEqual(['feat', 'fromgit', 'old'])
  })
})
