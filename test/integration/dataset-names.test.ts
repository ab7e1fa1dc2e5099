import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { addr, floe, floeAt, floeFails, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

// Dataset names that travel: A publishes mnist twice; B, connected to A, lists, mounts and
// gets A's versions by name; C, connected only to B, resolves them through B. (A hostile peer
// answering name requests: test/security/dataset-names.test.ts.)

const r = resources()
let a: RunningDaemon
let b: RunningDaemon
let work: string
let v1: any
let v2: any

const json = floeAt
const fails = floeFails

beforeAll(async () => {
  const homeA = r.folder(await tempHome())
  // A goes by "alice": the owner name of the projects it creates
  await writeFile(join(homeA, 'config.json'), JSON.stringify({ owner: 'alice' }))
  ;[a, b] = await Promise.all([r.startAt(homeA), r.start('--provider')])
  work = r.folder(await tempHome('floe-names-'))
  await mkdir(join(work, 'mnist'))
  await writeFile(join(work, 'mnist', 'train.csv'), 'version one\n')
  v1 = await json(a, 'data', 'upload', join(work, 'mnist'), '--public')
  await writeFile(join(work, 'mnist', 'train.csv'), 'version two\n')
  v2 = await json(a, 'data', 'upload', join(work, 'mnist'), '--public', '-m', 'cleaned')
  await json(b, 'connect', await addr(a))
}, 60_000)

afterAll(async () => {
  await r.cleanup()
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

describe('dataset names between daemons', () => {
  it('the owner signs its public versions and shows the name they travel by', async () => {
    const A = a.endpoint.peerId
    expect([v1.version, v2.version]).toEqual([1, 2])
    expect(v2).toMatchObject({ public: true, shareName: `${A}/mnist:2` })
    const listed = await json(a, 'data', 'ls')
    expect(listed.map((d: any) => d.shareName)).toEqual([`${A}/mnist:2`, `${A}/mnist:1`])
    const text = (await floe(['data', 'ls', '--home', a.home])).stdout
    expect(text).toContain('SHARED AS')
    expect(text).toContain(`${A}/mnist:2`)
  })

  it('B lists A\'s versions by name, gets each byte for byte, in floe\'s and FloydHub\'s spellings', async () => {
    const A = a.endpoint.peerId
    const listed = await json(b, 'data', 'ls', `${A}/mnist`)
    expect(listed.map((d: any) => [d.version, d.cid, d.owner, d.shareName, d.message])).toEqual([
      [2, v2.cid, A, `${A}/mnist:2`, 'cleaned'],
      [1, v1.cid, A, `${A}/mnist:1`, '']
    ])
    const [got, floyd] = await Promise.all([
      json(b, 'data', 'get', `${A}/mnist:2`, join(work, 'b-v2')),
      json(b, 'data', 'get', `${A}/datasets/mnist/1`, join(work, 'b-v1'))
    ])
    expect(got).toMatchObject({ cid: v2.cid, via: 'bulk' })
    expect(await readFile(join(work, 'b-v2', 'train.csv'), 'utf8')).toBe('version two\n')
    expect(floyd.cid).toBe(v1.cid)
    expect(await readFile(join(work, 'b-v1', 'train.csv'), 'utf8')).toBe('version one\n')
  })

  it('B runs a job on its own provider with --data A/mnist:1:/data, and the job reads version 1', async () => {
    const code = await r.codeFolder()
    const result = await floe(['run', '--home', b.home, '--path', code, '--json', '--follow', '--data', `${a.endpoint.peerId}/mnist:1:/data`, '--', 'cat', '/data/train.csv'], { timeoutMs: 60_000 })
    expect(result.code, result.stderr).toBe(0)
    const job = JSON.parse(result.stdout)
    expect(job).toMatchObject({ state: 'success', provider: b.endpoint.peerId, inputs: [{ cid: v1.cid, mount: '/data' }] })
    const logs = await json(b, 'logs', job.ref)
    expect(logs.lines.filter((l: any) => l.stream === 'stdout').map((l: any) => l.line)).toEqual(['version one'])
  })

  it('a name B knows A by (the owner of a project they share) works in place of A\'s peer id', async () => {
    expect(await fails(b, 'data', 'ls', 'alice/mnist')).toBe('floe data ls: no peer is known here as "alice": name the owner by peer id (`floe id` on their node prints it), e.g. <PEER-ID>/mnist:1; a name works once you share a project they own')
    const project = `vision-${Date.now()}`
    const { id: pid } = await json(a, 'init', project, '--path', await r.codeFolder())
    await json(a, 'project', 'add-member', b.endpoint.peerId, '--project', pid)
    await expect.poll(async () => (await json(b, 'projects')).map((p: any) => p.name), { timeout: 15_000 }).toContain(`alice/${project}`)
    const [listed, got] = await Promise.all([json(b, 'data', 'ls', 'alice/mnist'), json(b, 'data', 'get', 'alice/mnist:1', join(work, `b-alias-${project}`))])
    expect(listed.map((d: any) => d.version)).toEqual([2, 1])
    expect(got.cid).toBe(v1.cid)
    // a member records the shared version in the project's log under its shared name
    expect(await json(b, 'project', 'attach', 'alice/mnist:1', '--project', pid)).toMatchObject({ name: `${a.endpoint.peerId}/mnist`, version: 1, datasetCid: v1.cid })
  })

  it('C, connected only to B, resolves A\'s name through B and fetches the content from B', async () => {
    const c = await r.start()
    await json(c, 'connect', await addr(b))
    const got = await json(c, 'data', 'get', `${a.endpoint.peerId}/mnist:2`, join(work, 'c-v2'))
    expect(got.cid).toBe(v2.cid)
    expect(await readFile(join(work, 'c-v2', 'train.csv'), 'utf8')).toBe('version two\n')
  })

  it('numbers past every version ever shared: a name removed and uploaded again never reuses a version', async () => {
    const name = `scratch-${Date.now()}`
    const one = await json(a, 'data', 'upload', join(work, 'mnist'), '--name', name, '--public')
    await json(a, 'data', 'rm', name)
    const again = await json(a, 'data', 'upload', join(work, 'mnist', 'train.csv'), '--name', name, '--public')
    expect([one.version, again.version]).toEqual([1, 2])
    // the removed version is no longer answered for
    expect(await fails(b, 'data', 'get', `${a.endpoint.peerId}/${name}:1`, join(work, 'nope'))).toBe(`floe data get: ${a.endpoint.peerId} has published no version 1 of "${name}"; see floe data ls ${a.endpoint.peerId}/${name}`)
  })

  it('a private version has no name others can resolve; unknown names say what to do', async () => {
    const A = a.endpoint.peerId
    await json(a, 'data', 'upload', join(work, 'mnist'), '--name', 'secret')
    const [listed, secret, missing, unknown] = await Promise.all([
      json(b, 'data', 'ls', `${A}/secret`),
      fails(b, 'data', 'get', `${A}/secret:1`, join(work, 'nope')),
      fails(b, 'data', 'get', `${A}/mnist:9`, join(work, 'nope')),
      fails(b, 'data', 'get', 'mnist/4', join(work, 'nope'))
    ])
    expect(listed).toEqual([])
    expect(secret).toBe(`floe data get: ${A} has published no version 1 of "secret"; see floe data ls ${A}/secret`)
    expect(missing).toBe(`floe data get: ${A} has published no version 9 of "mnist" (its newest known here is 2); see floe data ls ${A}/mnist`)
    expect(unknown).toBe('floe data get: "mnist/4" is neither version 4 of a dataset "mnist" here nor a job; see floe data ls and floe status')
  })
})
