import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as dagCbor from '@ipld/dag-cbor'
import { ClassicLevel } from 'classic-level'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createApiClient } from '../../client/api-client.js'
import { readCar, writeCar } from '../../daemon/store/car.js'
import { streamChannel } from '../../daemon/p2p/message-channel.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { encodeEntry, entryCid, entrySigningPayload, ENTRY_SIGNING_DOMAIN, type Entry, type EntryBody } from '../../protocol/projects/entry.js'
import { decodeSyncFrame, decodeSyncRequest, encodeSyncMessage, MAX_SYNC_FRAME_BYTES, PROJECT_LOG_PROTOCOL, type SyncRequest } from '../../protocol/projects/project-log.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { testPeerNode } from '../helpers/test-peer.js'
import { floe, floeJson, addr, resources, tempHome, type RunningDaemon } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

const api = (d: RunningDaemon) => createApiClient({ url: d.endpoint.url, token: d.token })

/** `floe run --follow --json` from a folder linked to a project, on this daemon's own provider. */
async function runIn (d: RunningDaemon, code: string, args: string[]): Promise<any> {
  const result = await floe(['run', '--home', d.home, '--path', code, '--provider', d.endpoint.peerId, '--json', '--follow', ...args], { timeoutMs: 60_000 })
  if (result.stdout === '') throw new Error(`floe run failed: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/** What `floe status` shows of each job: the columns of its table. */
function table (jobs: any[]): string[][] {
  return jobs.map(j => [j.ref, j.createdAt, j.state, String(j.receipt?.runMs ?? '-'), j.provider ?? '-', j.spec.environment, String(j.receipt?.cost ?? '-'), j.message, JSON.stringify(j.metrics)])
}

const TRAIN = 'for s in 1 2 3; do echo "{\\"metric\\": \\"loss\\", \\"value\\": $(( 4 - s )).5, \\"step\\": $s}"; done; echo "$1" > /output/model.txt'

describe('projects between members', () => {
  it('two members append while disconnected; after reconnecting both hold the same heads and show the same table, refs unchanged', async () => {
    const homeB = r.folder(await tempHome())
    let a = await r.start('--provider')
    let b = await r.startAt(homeB, '--provider')
    const codeA = await r.codeFolder({ 'train.sh': TRAIN })
    const init = await floeJson(['init', 'mnist', '--path', codeA, '--home', a.home])
    expect(init).toMatchObject({ created: true, name: expect.stringMatching(/\/mnist$/) })
    const pid: string = init.id
    expect(JSON.parse(await readFile(join(codeA, '.floeproject'), 'utf8'))).toEqual({ id: pid, name: init.name })

    // B, connected, becomes a member: A tells it, and it pulls the project
    await floeJson(['connect', await addr(a), '--home', b.home])
    const added = await floeJson(['project', 'add-member', b.endpoint.peerId, '--project', pid, '--home', a.home])
    expect(added.members).toEqual({ [a.endpoint.peerId]: 0, [b.endpoint.peerId]: 1 })
    await expect.poll(async () => (await floeJson(['projects', '--home', b.home])).map((p: any) => p.id), { timeout: 10_000 }).toEqual([pid])

    // apart: each appends while the other is down (connected, each would keep the other, a
    // member, connected: being apart takes one of them stopped)
    await b.stop('SIGTERM')
    const a1 = await runIn(a, codeA, ['-m', 'baseline', '--', 'sh', 'train.sh', 'a1'])
    const a2 = await runIn(a, codeA, ['-m', 'wider', '--', 'sh', 'train.sh', 'a2'])
    const headsA = (await floeJson(['project', 'show', '--project', pid, '--home', a.home])).heads
    const homeA = a.home
    await a.stop('SIGTERM')
    b = await r.startAt(homeB, '--provider')
    const codeB = await r.codeFolder({ 'train.sh': TRAIN })
    await floeJson(['init', pid, '--path', codeB, '--home', b.home])
    const b1 = await runIn(b, codeB, ['-m', 'from b', '--', 'sh', 'train.sh', 'b1'])
    await floeJson(['project', 'note', 'tried a smaller batch', '--project', pid, '--home', b.home])
    expect([a1.state, a2.state, b1.state]).toEqual(['success', 'success', 'success'])
    expect([a1.number, a2.number, b1.number]).toEqual([1, 2, 100_001])
    expect(a1.metrics.loss).toMatchObject({ value: 1.5, step: 3 })
    const headsB = (await floeJson(['project', 'show', '--project', pid, '--home', b.home])).heads
    expect(headsA).not.toEqual(headsB)

    // together again (the test's daemons listen on ephemeral ports, so a restarted one is not
    // where the other remembers it: connect by hand), and both pull what they lack
    a = await r.startAt(homeA, '--provider')
    await floeJson(['connect', await addr(a), '--home', b.home])
    const metrics = await api(a).call('jobMetrics', { ref: a1.ref })
    expect(metrics.series.loss?.map((p: any) => [p.step, p.value])).toEqual([[1, 3.5], [2, 2.5], [3, 1.5]])
    await expect.poll(async () => {
      const [x, y] = await Promise.all([a, b].map(async d => (await floeJson(['project', 'show', '--project', pid, '--home', d.home])).heads))
      return JSON.stringify(x) === JSON.stringify(y) ? x.length : -1
    }, { timeout: 30_000 }).toBe(2)
    const statusA = await floeJson(['status', '--project', pid, '--home', a.home])
    const statusB = await floeJson(['status', '--project', pid, '--home', b.home])
    expect(table(statusA)).toEqual(table(statusB))
    expect(statusA.map((j: any) => j.ref)).toEqual([a1.ref, a2.ref, b1.ref])
    expect(statusB.find((j: any) => j.ref === a1.ref)).toMatchObject({ state: 'success', outputCid: a1.outputCid, author: a.endpoint.peerId, metrics: { loss: { value: 1.5 } } })

    // the next append merges both heads, on either side, and the history reads alike
    await floeJson(['project', 'note', 'merged', '--project', pid, '--home', a.home])
    await expect.poll(async () => (await floeJson(['project', 'show', '--project', pid, '--home', b.home])).heads.length, { timeout: 10_000 }).toBe(1)
    const logA = await floeJson(['log', '--project', pid, '--limit', '1000', '--home', a.home])
    const logB = await floeJson(['log', '--project', pid, '--limit', '1000', '--home', b.home])
    expect(logA.entries.map((e: any) => e.cid)).toEqual(logB.entries.map((e: any) => e.cid))
    expect(logA.entries[0]).toMatchObject({ type: 'note', summary: 'note: merged', author: a.endpoint.peerId })
    expect(logA.entries[0].prev).toHaveLength(2)

    // B reads A's job output and logs by CID from A
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', a1.ref, out, '--home', b.home])
    expect(await readFile(join(out, 'model.txt'), 'utf8')).toBe('a1\n')
    const logs = await floe(['logs', a1.ref, '--home', b.home])
    expect(logs.stdout.split('\n')[0]).toBe('{"metric": "loss", "value": 3.5, "step": 1}')

    // B cannot manage members
    const newcomer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const denied = await floe(['project', 'add-member', newcomer, '--project', pid, '--home', b.home])
    expect(denied.code).toBe(1)
    expect(denied.stderr).toMatch(/only the owner may write member.added/)
  })
})

async function signEntry (key: Awaited<ReturnType<typeof generateKeyPair>>, body: Omit<EntryBody, 'author'>): Promise<{ cid: CID, bytes: Uint8Array }> {
  const full: EntryBody = { ...body, author: peerIdFromPrivateKey(key).toString() }
  const sig = await signRecord(key, ENTRY_SIGNING_DOMAIN, entrySigningPayload(full))
  const bytes = encodeEntry({ ...full, sig })
  return { cid: await entryCid(bytes), bytes }
}

describe('a project log under attack and after a crash', () => {
  it('refuses tampered entries and entries from non-members, keeping the valid log whole', async () => {
    const a = await r.start()
    const c = await r.start()
    const folder = r.folder(await tempHome('floe-car-'))
    const { id: pid } = await floeJson(['init', 'vision', '--path', folder, '--home', a.home])
    for (const text of ['one', 'two', 'three']) await floeJson(['project', 'note', text, '--project', pid, '--home', a.home])
    await floeJson(['project', 'export', '--project', pid, '--car', join(folder, 'log.car'), '--home', a.home])

    // a copy with entry "two" altered after signing: it and what links it are refused
    const car = await readCar(join(folder, 'log.car'))
    const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
    for await (const block of car.blocks) blocks.push(block)
    const tampered = blocks.map(block => {
      const entry = dagCbor.decode(block.bytes) as Entry
      if (entry.type !== 'note' || (entry.payload as any).text !== 'two') return block
      return { bytes: dagCbor.encode({ ...entry, payload: { text: 'TWO' } }) }
    })
    const withCids = await Promise.all(tampered.map(async block => ({ cid: 'cid' in block ? block.cid : await entryCid(block.bytes), bytes: block.bytes })))
    await writeCar(join(folder, 'tampered.car'), car.roots, (async function * () { yield * withCids })())
    const result = await floe(['project', 'import', join(folder, 'tampered.car'), '--json', '--home', c.home])
    expect(result.code).toBe(1)
    const imported = JSON.parse(result.stdout)
    expect(imported.added).toBe(2) // genesis and "one"
    expect(imported.refused.map((x: any) => x.reason)).toEqual([
      expect.stringMatching(/its signature is not its author's/),
      expect.stringMatching(/it links to entry \S+, which is not held/)
    ])
    const partial = await floeJson(['log', '--project', pid, '--home', c.home])
    expect(partial.entries.map((e: any) => e.summary)).toEqual(['note: one', expect.stringMatching(/^project .*\/vision created$/)])

    // the untouched CAR completes it; an entry signed by a stranger is refused
    expect((await floeJson(['project', 'import', join(folder, 'log.car'), '--home', c.home])).added).toBe(2)
    const stranger = await generateKeyPair('Ed25519')
    const head = (await floeJson(['project', 'show', '--project', pid, '--home', c.home])).heads[0]
    const meta = (await floeJson(['log', '--project', pid, '--limit', '1', '--home', c.home])).entries[0]
    const forged = await signEntry(stranger, { v: 1, project: CID.parse(pid), prev: [CID.parse(head)], clock: meta.clock + 1, at: Date.now(), type: 'note', payload: { text: 'let me in' } })
    await writeCar(join(folder, 'forged.car'), [forged.cid], (async function * () { yield forged })())
    const refused = await floe(['project', 'import', join(folder, 'forged.car'), '--json', '--home', c.home])
    expect(refused.code).toBe(1)
    expect(JSON.parse(refused.stdout).refused[0].reason).toMatch(/its author \S+ is not a member/)
    const whole = await floeJson(['project', 'show', '--project', pid, '--home', c.home])
    expect(whole).toMatchObject({ entries: 4, heads: [head] }) // the genesis and three notes
  })

  it('a peer cannot push a project onto a node nobody added to it, by listing it or announcing it', async () => {
    const d = await r.start()
    const self = d.endpoint.peerId
    const owner = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const ownerId = peerIdFromPrivateKey(owner).toString()
    /** a project by `owner` whose member.added is signed by `adder` and names `added` */
    const project = async (name: string, adder: typeof owner, added: string): Promise<{ pid: string, genesis: { cid: CID, bytes: Uint8Array }, member: { cid: CID, bytes: Uint8Array } }> => {
      const genesis = await signEntry(owner, { v: 1, project: null, prev: [], clock: 0, at: Date.now(), type: 'project.created', payload: { owner: 'mallory', name } })
      const member = await signEntry(adder, { v: 1, project: genesis.cid, prev: [genesis.cid], clock: 1, at: Date.now(), type: 'member.added', payload: { peer: added, slot: 1 } })
      return { pid: genesis.cid.toString(), genesis, member }
    }
    const listed = await project('listed', owner, peerIdFromPrivateKey(other).toString()) // adds someone else
    const announced = await project('announced', other, self) // "adds" this node, signed by a non-owner
    const invited = await project('invited', owner, self) // the real thing
    const projects = new Map([listed, announced, invited].map(p => [p.pid, p]))

    // a libp2p peer that speaks the sync protocol as it likes, and notes what it is asked
    const asked: Array<{ type: string, project?: string }> = []
    const { node: mallory } = await testPeerNode(owner)
    try {
      await mallory.handle(PROJECT_LOG_PROTOCOL, async (stream, connection) => {
        const channel = streamChannel(stream, connection.remotePeer.toString(), MAX_SYNC_FRAME_BYTES)
        const request: SyncRequest = decodeSyncRequest((await channel.read()) as Uint8Array)
        asked.push({ type: request.type, ...('project' in request ? { project: request.project } : {}) })
        if (request.type === 'list') {
          await channel.send(encodeSyncMessage({ type: 'projects', projects: [{ id: listed.pid, heads: [listed.member.cid.toString()] }] }))
        } else if (request.type === 'invite' || request.type === 'pull') {
          const p = projects.get(request.project)
          if (p == null) throw new Error(`asked for an unknown project ${request.project}`)
          await channel.send(encodeSyncMessage(request.type === 'invite'
            ? { type: 'invitation', genesis: p.genesis.bytes, added: p.member.bytes }
            : { type: 'entries', entries: [p.genesis.bytes, p.member.bytes] }))
          if (request.type === 'pull') await channel.send(encodeSyncMessage({ type: 'end', epoch: 'm', seq: 2, heads: [p.member.cid.toString()], more: false }))
        } else {
          await channel.send(encodeSyncMessage({ type: 'ok' }))
        }
        await channel.close()
      })
      await mallory.dial(multiaddr(await addr(d)))
      // the announce path: mallory says it has new heads of a project
      for (const p of [announced, invited]) {
        const channel = streamChannel(await mallory.dialProtocol(multiaddr(await addr(d)), PROJECT_LOG_PROTOCOL), self, MAX_SYNC_FRAME_BYTES)
        await channel.send(encodeSyncMessage({ type: 'announce', project: p.pid, heads: [p.member.cid.toString()] }))
        expect(decodeSyncFrame((await channel.read()) as Uint8Array)).toEqual({ type: 'ok' })
        await channel.close()
      }

      // the invited project arrives; the others were asked to show an invitation, never pulled
      await expect.poll(async () => (await floeJson(['projects', '--home', d.home])).map((p: any) => p.id), { timeout: 15_000 }).toContain(invited.pid)
      expect(asked.filter(a => a.type === 'invite').map(a => a.project)).toContain(invited.pid)
      // the others were asked to show an invitation, refused with a reason, and never pulled
      const warnings = async (): Promise<Record<string, string>> => Object.fromEntries((await readFile(join(d.home, 'logs', 'daemon.log'), 'utf8')).trim().split('\n')
        .map(line => JSON.parse(line)).filter(line => line.msg === 'a peer offered a project this node was not added to').map(w => [w.project, w.err]))
      await expect.poll(warnings, { timeout: 15_000 }).toEqual({
        [listed.pid]: expect.stringContaining('nothing shows that this node was added to it'),
        [announced.pid]: expect.stringContaining("not by the project's owner")
      })
      expect(asked.filter(a => a.type === 'invite').map(a => a.project).sort()).toEqual([listed.pid, announced.pid, invited.pid].sort())
      expect(asked.filter(a => a.type === 'pull').map(a => a.project)).toEqual([invited.pid])
      const held = await floeJson(['projects', '--home', d.home])
      expect(held.map((p: any) => p.id)).toEqual([invited.pid])
      expect(held[0]).toMatchObject({ name: 'mallory/invited', ownerPeer: ownerId, writable: true })

      // a flood of announces of made-up projects: a few invitation asks a minute, then none;
      // a few warnings, not one per announce
      const invitesBefore = asked.filter(a => a.type === 'invite').length
      const madeUp = await Promise.all(Array.from({ length: 300 }, async (_, i) => CID.createV1(dagCbor.code, await sha256.digest(new TextEncoder().encode(`made-up ${i}`))).toString()))
      const target = multiaddr(await addr(d))
      for (const pid of madeUp) {
        const channel = streamChannel(await mallory.dialProtocol(target, PROJECT_LOG_PROTOCOL), self, MAX_SYNC_FRAME_BYTES)
        await channel.send(encodeSyncMessage({ type: 'announce', project: pid, heads: [pid] }))
        expect(decodeSyncFrame((await channel.read()) as Uint8Array)).toEqual({ type: 'ok' })
        await channel.close()
      }
      await new Promise(resolve => setTimeout(resolve, 2_000))
      const invitesAfter = asked.filter(a => a.type === 'invite').length - invitesBefore
      // 16 announces acted on a minute, each asked again after a cut stream (mallory resets it) up to 3 times
      expect(invitesAfter).toBeLessThanOrEqual(16 * 3)
      const floodWarnings = (await readFile(join(d.home, 'logs', 'daemon.log'), 'utf8')).trim().split('\n').map(line => JSON.parse(line))
        .filter(line => line.msg === 'a peer offered a project this node was not added to' && madeUp.includes(line.project))
      expect(floodWarnings.length).toBeLessThanOrEqual(5)
      expect((await floeJson(['projects', '--home', d.home])).map((p: any) => p.id)).toEqual([invited.pid])
    } finally {
      await mallory.stop()
    }
  })

  it('after kill -9 during a burst of appends, the restarted log verifies and holds every acknowledged entry; repair rebuilds a damaged index', async () => {
    const home = r.folder(await tempHome())
    let d = await r.startAt(home)
    const folder = r.folder(await tempHome('floe-code-'))
    const { id: pid } = await floeJson(['init', 'burst', '--path', folder, '--home', d.home])
    const client = api(d)
    const acked: string[] = []
    let stop = false
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          acked.push((await client.call('projectNote', { project: pid, text: `writer ${w} note ${i}` })).cid)
        } catch {
          return // the daemon is gone
        }
      }
    })
    await new Promise(resolve => setTimeout(resolve, 1500))
    await d.stop('SIGKILL')
    stop = true
    await Promise.all(writers)
    expect(acked.length).toBeGreaterThan(20)

    d = await r.startAt(home)
    const log = await floeJson(['log', '--project', pid, '--limit', '100000', '--home', d.home])
    const held = new Set(log.entries.map((e: any) => e.cid))
    expect(acked.filter(cid => !held.has(cid))).toEqual([])
    // the log checks out from the blocks alone, and a rebuild gives the same views — plus,
    // at most, the entries whose block reached the disk just before the kill while their
    // index write did not (never acknowledged, but signed and whole: a rebuild keeps them)
    const shown = await floeJson(['project', 'show', '--project', pid, '--home', d.home])
    const repaired = await floeJson(['repair', '--home', d.home])
    expect(repaired.refused).toEqual([])
    expect(repaired.kept).toBeGreaterThanOrEqual(shown.entries)
    expect(repaired.kept).toBeLessThanOrEqual(shown.entries + 6) // one in flight per writer
    const rebuilt = await floeJson(['project', 'show', '--project', pid, '--home', d.home])
    expect(rebuilt.entries).toBe(repaired.kept)
    if (repaired.kept === shown.entries) expect(rebuilt.heads).toEqual(shown.heads)

    // a damaged index: views deleted and a state garbled while the daemon is down
    await d.stop('SIGTERM')
    const index = new ClassicLevel<string, string>(join(home, 'index'))
    await index.open()
    for await (const key of index.keys({ gte: 'ph!', lt: 'ph!\xff' })) await index.del(key)
    await index.put(`pst!${pid}`, '{"seq":1,"mv":0,"jobs":0}')
    await index.close()
    d = await r.startAt(home)
    const report = await floeJson(['repair', '--home', d.home])
    expect(report).toMatchObject({ kept: rebuilt.entries, refused: [] })
    expect(await floeJson(['project', 'show', '--project', pid, '--home', d.home])).toMatchObject({ entries: rebuilt.entries, heads: rebuilt.heads })
  })
})

describe('a long log', () => {
  it('syncs in pages: a member pulls 6,000 entries whole, the page size and its buffer notwithstanding', async () => {
    const a = await r.start()
    const b = await r.start()
    const folder = r.folder(await tempHome('floe-car-'))
    const owner = await generateKeyPair('Ed25519')
    const entries: Array<{ cid: CID, bytes: Uint8Array }> = []
    const genesis = await signEntry(owner, { v: 1, project: null, prev: [], clock: 0, at: Date.now(), type: 'project.created', payload: { owner: 'someone', name: 'long' } })
    entries.push(genesis)
    const pid = genesis.cid
    const next = async (type: 'member.added' | 'note', payload: Record<string, unknown>): Promise<void> => {
      const last = entries.at(-1) as { cid: CID }
      entries.push(await signEntry(owner, { v: 1, project: pid, prev: [last.cid], clock: entries.length, at: Date.now(), type, payload }))
    }
    await next('member.added', { peer: a.endpoint.peerId, slot: 1 })
    await next('member.added', { peer: b.endpoint.peerId, slot: 2 })
    while (entries.length < 6_000) await next('note', { text: `note ${entries.length}: ${'x'.repeat(120)}` })
    await writeCar(join(folder, 'long.car'), [(entries.at(-1) as { cid: CID }).cid], (async function * () { yield * entries })())
    expect(await floeJson(['project', 'import', join(folder, 'long.car'), '--home', a.home])).toMatchObject({ added: 6_000, refused: [] })

    await floeJson(['connect', await addr(a), '--home', b.home])
    await expect.poll(async () => (await floe(['project', 'show', '--project', pid.toString(), '--json', '--home', b.home])).stdout, { timeout: 40_000, interval: 250 })
      .toContain('"entries": 6000')
    const [onA, onB] = await Promise.all([a, b].map(async d => await floeJson(['project', 'show', '--project', pid.toString(), '--home', d.home])))
    expect(onB.heads).toEqual(onA.heads)
    expect(await floeJson(['project', 'sync', '--project', pid.toString(), '--home', b.home])).toMatchObject({ added: 0, peers: 1, failed: [] })
  })
})

describe('reproduction', () => {
  it('rerun makes a new job from the same spec; --reuse returns a deterministic success without running', async () => {
    const d = await r.start('--provider')
    const code = await r.codeFolder({ 'train.sh': TRAIN })
    await floeJson(['init', 'repro', '--path', code, '--home', d.home])
    const first = await runIn(d, code, ['--deterministic', '--', 'sh', 'train.sh', 'det'])
    expect(first).toMatchObject({ state: 'success', deterministic: true })

    const reused = await floe(['rerun', first.ref, '--reuse', '--json', '--home', d.home])
    expect(reused.code).toBe(0)
    const again = JSON.parse(reused.stdout)
    expect(again).toMatchObject({ number: 2, state: 'success', specCid: first.specCid, outputCid: first.outputCid, reusedFrom: first.ref, provider: null })
    const log = await floeJson(['log', '--project', first.projectId, '--limit', '1', '--home', d.home])
    expect(log.entries[0].summary).toBe(`job 2 returned ${first.ref}'s output (same spec, deterministic)`)
    // a dataset version recorded in the log
    await writeFile(join(code, 'train.csv'), '1,2\n')
    const dataset = await floeJson(['data', 'upload', join(code, 'train.csv'), '--name', 'train', '--home', d.home])
    const attached = await floeJson(['project', 'attach', 'train', '--project', first.projectId, '--home', d.home])
    expect(attached).toMatchObject({ name: 'train', version: 1, datasetCid: dataset.cid })
    expect((await floeJson(['log', '--project', first.projectId, '--limit', '1', '--home', d.home])).entries[0].summary).toBe(`dataset train:1 attached (${dataset.cid as string})`)
    const out = join(r.folder(await tempHome('floe-out-')), 'out')
    await floeJson(['output', again.ref, out, '--home', d.home])
    expect(await readFile(join(out, 'model.txt'), 'utf8')).toBe('det\n')

    // a changed spec runs (and so does the same one without --reuse)
    const changed = await floe(['rerun', first.ref, '--reuse', '--follow', '--json', '--home', d.home, '--', 'sh', 'train.sh', 'changed'], { timeoutMs: 60_000 })
    const ran = JSON.parse(changed.stdout)
    expect(ran).toMatchObject({ number: 3, state: 'success', reusedFrom: null, provider: d.endpoint.peerId })
    expect(ran.specCid).not.toBe(first.specCid)
    const plain = JSON.parse((await floe(['rerun', first.ref, '--follow', '--json', '--home', d.home], { timeoutMs: 60_000 })).stdout)
    expect(plain).toMatchObject({ number: 4, state: 'success', specCid: first.specCid, reusedFrom: null })
  })
})
