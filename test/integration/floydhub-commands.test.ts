import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { connectToProvider, floe, floeJson, resources, type RunningDaemon } from '../helpers/floe.js'

/**
 * FloydHub's commands where floe had none (issue 19): data init/status/add/delete, upload of
 * the current folder, info, restart, delete, logs -t, run from a client daemon on a provider
 * daemon; and every friction error a FloydHub user met, as one line naming the fix. One
 * client and one provider serve the whole file.
 */
const r = resources()
let client: RunningDaemon
let provider: RunningDaemon

beforeAll(async () => {
  provider = await r.start('--provider')
  client = await r.start()
  await connectToProvider(client, provider)
})

afterAll(async () => {
  await r.cleanup()
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

/** `floe ARGS --home CLIENT` in `cwd`, which must succeed; its --json answer. */
async function json (args: string[], cwd?: string): Promise<any> {
  return await floeJson(['--home', client.home, ...args], cwd != null ? { cwd } : {})
}

describe('FloydHub-familiar commands', () => {
  it('data init/upload/status/add/delete, info, restart with the current code, delete with a tombstone, logs -t', async () => {
    // names of this attempt's own (a retry runs on the same daemons)
    const name = `mnist${Math.random().toString(36).slice(2, 7)}`
    // a dataset folder: init names it, upload with no path uploads it (without the link file)
    const data = await r.codeFolder({ 'train.csv': 'a,b\n1,2\n' })
    const init = await floe(['--home', client.home, 'data', 'init', name], { cwd: data })
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain('upload it with: floe data upload')
    const first = await json(['data', 'upload'], data)
    expect(first).toMatchObject({ name, version: 1, files: 1 })
    await writeFile(join(data, 'test.csv'), 'a,b\n3,4\n')
    const second = await json(['data', 'upload'], data)
    expect(second).toMatchObject({ name, version: 2, files: 2 })
    const status = await floe(['--home', client.home, 'data', 'status'], { cwd: data })
    expect(status.stdout).toMatch(new RegExp(`${name}:2\\s+16 B\\s+2\\s+\\d+ s ago`))
    expect(status.stdout).toMatch(new RegExp(`${name}:1\\s+8 B\\s+1\\s+`))

    // a project folder: run, then restart with changed code
    const code = await r.codeFolder({ 'train.sh': 'cat /data/train.csv; echo v1 > /output/model.txt\n' })
    await json(['init', name], code)
    const run = await floe(['--home', client.home, 'run', '--data', `${name}:1:/data`, '--json', '--follow', '--', 'sh', 'train.sh'], { cwd: code, timeoutMs: 60_000 })
    expect(run.code, `${run.stderr}${run.stdout}\n${provider.output().slice(-3000)}`).toBe(0)
    const job1 = JSON.parse(run.stdout)
    expect(job1).toMatchObject({ state: 'success', provider: provider.endpoint.peerId })

    const info = await floe(['--home', client.home, 'info', '1'], { cwd: code })
    expect(info.stdout).toContain(`job          ${job1.ref}`)
    expect(info.stdout).toMatch(/command {6}sh train\.sh\n/)
    expect(info.stdout).toContain(`output       ${job1.outputCid}`)
    expect(info.stdout).toContain(`input        ${name}:1 → /data`)
    expect(info.stdout).toMatch(/ended {8}success, exit code 0; output 3 B; receipt signed by /)
    expect(await json(['info', '1'], code)).toMatchObject({ jobId: job1.jobId, specCid: job1.specCid })

    await writeFile(join(code, 'train.sh'), 'echo v2 > /output/model.txt; echo restarted\n')
    const restarted = await floe(['--home', client.home, 'restart', '1', '--json', '--follow'], { cwd: code, timeoutMs: 60_000 })
    expect(restarted.code, `${restarted.stderr}${restarted.stdout}\n${provider.output().slice(-3000)}`).toBe(0)
    const job2 = JSON.parse(restarted.stdout)
    expect(job2).toMatchObject({ state: 'success', number: 2, inputs: [{ ref: `${name}:1`, mount: '/data' }], spec: { command: ['sh', 'train.sh'] } })
    expect(job2.spec.code).not.toBe(job1.spec.code)
    const out = join(r.folder(await r.codeFolder({})), 'out')
    await json(['output', '2', out], code)
    expect(await readFile(join(out, 'model.txt'), 'utf8')).toBe('v2\n')

    // logs -t: each line starts with its time
    const logs = await floe(['--home', client.home, 'logs', '-t', '2'], { cwd: code })
    expect(logs.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z restarted$/m)

    // data add: the output as a dataset version, same CID, nothing copied
    const added = await json(['data', 'add', '2/output', '--name', `${name}-model`], code)
    expect(added).toMatchObject({ name: `${name}-model`, version: 1, cid: job2.outputCid, files: 1, bytes: 3 })

    // delete: a running job is refused (stop it first); an ended one leaves the listings
    const sleeper = JSON.parse((await floe(['--home', client.home, 'run', '--path', await r.codeFolder({}), '--json', '--', 'sleep', '30'])).stdout)
    await expect.poll(async () => (await json(['status', sleeper.ref])).state, { timeout: 20_000, interval: 200 }).toBe('running')
    const refused = await floe(['--home', client.home, 'delete', sleeper.ref])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(`floe delete: job ${sleeper.ref} is running; stop it first (floe stop ${sleeper.ref}), then delete it\n`)
    const stopped = await floe(['--home', client.home, 'stop', sleeper.ref, '--json'])
    expect(stopped.code, `${stopped.stderr}${JSON.stringify(await json(['status', sleeper.ref]))}\n${provider.output().slice(-3000)}`).toBe(0)
    await json(['gc'])
    const deleted = await floe(['--home', client.home, 'delete', '1'], { cwd: code })
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.stdout).toContain(`deleted ${job1.ref}; its output ${job1.outputCid} is no longer kept`)
    expect((await json(['status'], code)).map((j: any) => j.number)).toEqual([2])
    const all = await json(['status', '--all'], code)
    expect(all.find((j: any) => j.ref === job1.ref)?.deletedAt).toEqual(expect.any(String))
    expect((await floe(['--home', client.home, 'status', '--all'], { cwd: code })).stdout).toMatch(new RegExp(`${job1.ref} .*success \\(deleted\\)`))
    const log = await floe(['--home', client.home, 'log'], { cwd: code })
    expect(log.stdout).toMatch(/job 1 deleted/)
    // gc (run just before the delete) now frees the deleted job's output and logs; job 2's output is kept by the dataset version
    const gc = await json(['gc'])
    expect(gc.removedBlocks).toBeGreaterThan(0)
    expect((await json(['data', 'get', `${name}-model`, join(out, '..', 'model-copy')])).cid).toBe(job2.outputCid)

    // data delete is rm
    expect(await json(['data', 'delete', `${name}:1`])).toEqual([expect.objectContaining({ name, version: 1 })])
  }, 300_000) // six jobs and a dozen commands (alone: 54 s; beside other files on a loaded machine: 132 s)

})

describe('friction errors: one line, the cause and the fix, never a schema dump', () => {
  const cases: Array<{ args: string[], says: RegExp }> = [
    { args: ['run', '--gpu', '--', 'true'], says: /^floe run: no provider can take this job .*needs 1 GPU/ },
    { args: ['run', '--data', 'mnist:data', '--', 'true'], says: /^floe run: --data mnist:data: the mount path must be absolute, e\.g\. mnist:\/data$/ },
    { args: ['run', 'python3', 'train.py', '--lr', '0.1'], says: /^floe run: unknown option '--lr'; put the job's command after --: floe run -- python3 train.py --lr 0\.1$/ },
    { args: ['info', '99'], says: /^floe info: no job 99 in this node's default project [^ ]+\/default; see floe status$/ },
    { args: ['providers', '--gpu', '1'], says: /^none of the 1 known offer has 1 free GPU \(the most free GPUs: 0\); floe providers lists them all$/ },
    { args: ['run', '--env', 'nope', '--', 'true'], says: /^floe run: unknown environment "nope".*\(known: / },
    { args: ['run', '--data', 'nope:/d', '--', 'true'], says: /^floe run: "nope" is neither a dataset name nor a valid CID; see floe data ls$/ },
    { args: ['run', '--project', 'nope', '--', 'true'], says: /^floe run: no project "nope" on this node; see floe projects/ }
  ]

  it('walks each of them', async () => {
    const folder = await r.codeFolder({})
    const linked = await r.codeFolder({})
    await json(['init', 'cifar'], linked)
    const [results, missing, none] = await Promise.all([
      Promise.all(cases.map(async ({ args }) => await floe(['--home', client.home, ...args], { cwd: folder }))),
      // in a linked folder, the project searched is the folder's, and the error says so
      floe(['--home', client.home, 'info', '11'], { cwd: linked }),
      // no daemon: one line with the fix
      floe(['status', '--home', folder])
    ])
    cases.forEach(({ args, says }, i) => {
      const result = results[i] as Awaited<ReturnType<typeof floe>>
      const text = args[0] === 'providers' ? result.stdout : result.stderr
      expect(text.trim(), args.join(' ')).toMatch(says)
      expect(text.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr, args.join(' ')).not.toMatch(/"code":|invalid_type|\[\s*\{/)
      if (args[0] !== 'providers') expect(result.code, args.join(' ')).toBe(1)
    })
    expect(missing.stderr).toMatch(/^floe info: no job 11 in project [^ ]+\/cifar \(this folder's, from \.floeproject\); see floe status\n$/)
    // the API itself: a request its schema refuses gets one line naming the field
    const api = await fetch(`${client.endpoint.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: ['true'], requirements: { cpus: 1, memoryBytes: 1024, gpus: 'one' } })
    })
    expect(api.status).toBe(400)
    expect(await api.json()).toEqual({ error: { name: 'InvalidRequestError', message: 'invalid request: requirements.gpus: expected a number' } })
    expect(none.stderr).toMatch(/^floe status: no floe daemon is running for .*; start one with: floe daemon --home .*\n$/)
  })
})
