import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as dagCbor from '@ipld/dag-cbor'
import type { Stream } from '@libp2p/interface'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signRecord } from '../../daemon/p2p/signing.js'
import { DAG_PROTOCOL, decodeDagFrame, encodeDagAck, encodeDagRequest, DAG_MAX_REQUEST_BYTES as MAX_REQUEST_BYTES, REMOTE_ERRORS } from '../../protocol/transfer/dag.js'
import { encodeJobSpec, specCid } from '../../protocol/jobs/spec.js'
import { decodeProviderMessage, encodeJobMessage, encodeJobRequest, JOB_PROTOCOL, JOB_REQUEST_SIGNING_DOMAIN, MAX_JOB_MESSAGE_BYTES } from '../../protocol/jobs/wire.js'
import { decodeSyncFrame, encodeSyncMessage, MAX_SYNC_REQUEST_BYTES, PROJECT_LOG_PROTOCOL as PROJECT_SYNC_PROTOCOL } from '../../protocol/projects/project-log.js'
import { decodeTunnelMessage, encodeTunnelMessage, MAX_TUNNEL_MESSAGE_BYTES, TUNNEL_PROTOCOL } from '../../protocol/workspaces/tunnel.js'
import { floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { errorLines, fuzz, healthy, rssBytes, RSS_BUDGET_BYTES } from './harness.js'
import { bitFlipped, protocolInputs, type Sent } from './protocol-inputs.js'
import { concat, frames, lengthPrefixed, rawPeer, varint, type Conversation, type RawPeer } from './raw-peer.js'

/**
 * floe's libp2p protocols under generated input from a raw peer: `/floe/job`, `/floe/dag`,
 * `/floe/project-log` and `/floe/tunnel` (and, as garbage only, every other protocol the
 * daemon advertises: identify, ping, gossipsub, bitswap). Garbage, length prefixes that lie
 * (up to 2^63 − 1), dag-cbor of the wrong shape, nesting 60,000 deep, valid messages (a job
 * request correctly signed by a fresh key, a DAG request for a public dataset, …) with one bit
 * flipped, cut messages; then slow peers and floods. After each property the daemon must run,
 * answer `floe id` within 2 s and stay in its memory budget; at the end it must hold the same
 * datasets, projects and jobs, and have logged no error.
 */
const r = resources()
let d: RunningDaemon
let peer: RawPeer
let address: string
let publicRoot: CID
let projectId: string
let before: unknown
let peakRss = 0

/** What a user would list: datasets, projects, and jobs with their states. */
async function stored (): Promise<unknown> {
  const [datasets, projects, jobs] = await Promise.all([
    floeJson(['data', 'ls', '--home', d.home]),
    floeJson(['projects', '--home', d.home]),
    floeJson(['status', '--home', d.home])
  ])
  return { datasets, projects, jobs }
}
async function checkHealthy (): Promise<void> {
  await healthy(d)
  peakRss = Math.max(peakRss, rssBytes(d.process.pid as number))
}

beforeAll(async () => {
  d = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  const data = r.folder(await mkdtemp(join(tmpdir(), 'floe-fuzz-data-')))
  await writeFile(join(data, 'a.txt'), 'alpha\n')
  await writeFile(join(data, 'b.bin'), randomBytes(300_000))
  publicRoot = CID.parse((await floeJson(['data', 'upload', data, '--name', 'public', '--public', '--home', d.home])).cid)
  const init = await fetch(`${d.endpoint.url}/api/v1/projects`, { method: 'POST', body: JSON.stringify({ name: 'fuzzed' }), headers: { authorization: `Bearer ${d.token}` } })
  expect(init.status).toBe(200)
  projectId = ((await floeJson(['projects', '--home', d.home])) as Array<{ id: string }>)[0]?.id as string
  address = (await floeJson(['id', '--home', d.home])).addresses[0]
  peer = await rawPeer(address)
  before = await stored()
  await checkHealthy()
}, 60_000)
afterAll(async () => {
  await peer?.stop()
  console.info(`protocol fuzzing: peak daemon RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB of a ${RSS_BUDGET_BYTES / 2 ** 20} MiB budget`)
  await r.cleanup()
})

/** How each protocol's conversations ended: a property whose streams never open tests nothing. */
const tally = new Map<string, Record<Conversation['end'], number>>()
async function play (protocol: string, sent: Sent, waitMs = 300): Promise<Conversation> {
  const answer = await peer.converse(protocol, sent.chunks, { waitMs, halfClose: sent.halfClose })
  const counts = tally.get(protocol) ?? { refused: 0, ended: 0, reset: 0, open: 0 }
  counts[answer.end]++
  tally.set(protocol, counts)
  return answer
}
/** The daemon's handler saw most of the property's streams (the rest were refused at negotiation). */
function reached (protocol: string): void {
  const counts = tally.get(protocol)
  console.info(`${protocol}: ${JSON.stringify(counts)}`)
  expect(counts?.refused ?? Infinity).toBeLessThan(((counts?.ended ?? 0) + (counts?.reset ?? 0) + (counts?.open ?? 0)))
}
const hex = (n: number): string => randomBytes(n).toString('hex')

/** A job request correctly signed by the raw peer's fresh key, for an environment the provider lacks (so even unflipped it is refused, never run). */
async function signedSubmit (): Promise<Uint8Array> {
  const code = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('fuzz')))
  const spec = encodeJobSpec({ version: 1, code, command: ['true'], inputs: [], environment: 'floe-fuzz-absent', resources: { cpus: 1, memoryBytes: 64 * 1024 * 1024, gpus: 0 }, timeoutSeconds: 30, network: false })
  const request = encodeJobRequest({ version: 1, jobId: hex(16), client: peer.peerId, provider: d.endpoint.peerId, spec, specCid: await specCid(spec), maxPricePerHour: 1e6, issuedAt: Date.now() })
  return encodeJobMessage({ type: 'submit', request, signature: await signRecord(peer.privateKey, JOB_REQUEST_SIGNING_DOMAIN, request) })
}

describe('fuzzing the libp2p protocols from a raw peer', () => {
  it(`${JOB_PROTOCOL}: every stream is refused or cut, no job is ever accepted`, async () => {
    const valid = [await signedSubmit(), encodeJobMessage({ type: 'attach', jobId: hex(16), after: 0 }), encodeJobMessage({ type: 'heartbeat' }), encodeJobMessage({ type: 'cancel' })]
    // the unflipped request is refused for its environment: the signature and the rest passed
    const baseline = await peer.converse(JOB_PROTOCOL, [lengthPrefixed(valid[0] as Uint8Array)], { waitMs: 3_000, halfClose: true })
    expect(frames(baseline.received).map(decodeProviderMessage)).toEqual([expect.objectContaining({ type: 'refused', reason: 'environment-missing' })])
    const inputs = fc.oneof(
      protocolInputs({ maxBytes: MAX_JOB_MESSAGE_BYTES, types: ['submit', 'attach', 'heartbeat', 'cancel'], fields: ['request', 'signature', 'jobId', 'after'], valid }),
      // as many again: the signed request with one bit flipped (in its envelope, request or signature)
      bitFlipped(valid[0] as Uint8Array).map(({ kind, bytes }): Sent => ({ kind: `signed request: ${kind}`, chunks: [bytes], halfClose: true }))
    )
    await fuzz(JOB_PROTOCOL, inputs, async sent => {
      const answer = await play(JOB_PROTOCOL, sent)
      for (const message of frames(answer.received).map(decodeProviderMessage)) {
        expect(message, sent.kind).toMatchObject({ type: 'refused' })
        expect((message as { reason: string }).reason, sent.kind).not.toBe('environment-missing')
      }
    }, { runs: 100, ms: 10_000 })
    reached(JOB_PROTOCOL)
    await checkHealthy()
  }, 30_000)

  it(`${DAG_PROTOCOL}: answers are blocks, done or a named refusal; garbage acknowledgements end only that transfer`, async () => {
    const valid = [
      encodeDagRequest({ root: publicRoot, have: [] }),
      encodeDagRequest({ root: publicRoot, have: [publicRoot], structure: true }),
      encodeDagRequest({ root: CID.createV1(raw.code, await sha256.digest(randomBytes(8))), have: [] })
    ]
    const inputs = fc.tuple(
      protocolInputs({ maxBytes: MAX_REQUEST_BYTES, types: ['block', 'done', 'error'], fields: ['root', 'have', 'structure'], valid }),
      // what follows the request: acknowledgements, right or wrong
      fc.array(fc.oneof(fc.nat().map(n => lengthPrefixed(encodeDagAck(n))), fc.uint8Array({ maxLength: 32 }), fc.bigInt({ min: 0n, max: 2n ** 62n }).map(n => concat([varint(n), Uint8Array.from([1, 2, 3])]))), { maxLength: 3 })
    )
    await fuzz(DAG_PROTOCOL, inputs, async ([sent, acks]) => {
      const answer = await play(DAG_PROTOCOL, { ...sent, chunks: [...sent.chunks, ...acks] })
      for (const frame of frames(answer.received).map(decodeDagFrame)) {
        if (frame.type === 'error') expect(REMOTE_ERRORS.has(frame.name), `${sent.kind}: ${frame.name}`).toBe(true)
      }
    }, { runs: 100, ms: 10_000 })
    reached(DAG_PROTOCOL)
    await checkHealthy()
  }, 30_000)

  it(`${PROJECT_SYNC_PROTOCOL}: a stranger gets no project, whatever it asks`, async () => {
    const valid = [
      encodeSyncMessage({ type: 'list' }),
      encodeSyncMessage({ type: 'pull', project: projectId, after: 0, epoch: null }),
      encodeSyncMessage({ type: 'invite', project: projectId }),
      encodeSyncMessage({ type: 'announce', project: projectId, heads: [projectId] })
    ]
    const inputs = protocolInputs({ maxBytes: MAX_SYNC_REQUEST_BYTES, types: ['list', 'announce', 'pull', 'invite'], fields: ['project', 'heads', 'after', 'epoch'], valid })
    await fuzz(PROJECT_SYNC_PROTOCOL, inputs, async sent => {
      const answer = await play(PROJECT_SYNC_PROTOCOL, sent)
      for (const frame of frames(answer.received).map(decodeSyncFrame)) {
        expect(['projects', 'ok', 'error'], sent.kind).toContain(frame.type)
        if (frame.type === 'projects') expect(frame.projects).toEqual([])
      }
    }, { runs: 80, ms: 10_000 })
    reached(PROJECT_SYNC_PROTOCOL)
    await checkHealthy()
  }, 30_000)

  it(`${TUNNEL_PROTOCOL}: no workspace of the raw peer's, so every tunnel is refused with a message or cut`, async () => {
    const valid = [
      encodeTunnelMessage({ type: 'shell', job: hex(16), command: null, cols: 80, rows: 24 }),
      encodeTunnelMessage({ type: 'port', job: hex(16), port: 8080 }),
      encodeTunnelMessage({ type: 'probe', job: hex(16), port: 22 }),
      encodeTunnelMessage({ type: 'detach', job: hex(16), command: ['sh', '-c', 'id'] }),
      encodeTunnelMessage({ type: 'data', bytes: randomBytes(64) })
    ]
    const inputs = protocolInputs({ maxBytes: MAX_TUNNEL_MESSAGE_BYTES, types: ['shell', 'port', 'probe', 'detach', 'detached', 'data', 'resize', 'eof', 'ack'], fields: ['job', 'command', 'cols', 'rows', 'port', 'bytes', 'id', 'log'], valid })
    await fuzz(TUNNEL_PROTOCOL, inputs, async sent => {
      const answer = await play(TUNNEL_PROTOCOL, sent)
      for (const message of frames(answer.received).map(decodeTunnelMessage)) expect(message, sent.kind).toMatchObject({ type: 'error' })
    }, { runs: 80, ms: 8_000 })
    reached(TUNNEL_PROTOCOL)
    await checkHealthy()
  }, 30_000)

  it('every other protocol the daemon advertises survives garbage (identify, ping, gossipsub, bitswap, …)', async () => {
    const advertised = (await peer.node.peerStore.get(peer.node.getConnections()[0]!.remotePeer)).protocols
    const others = advertised.filter(p => ![JOB_PROTOCOL, DAG_PROTOCOL, PROJECT_SYNC_PROTOCOL, TUNNEL_PROTOCOL].includes(p))
    expect(others.length).toBeGreaterThan(0)
    const inputs = fc.record({
      protocol: fc.constantFrom(...others),
      sent: protocolInputs({ maxBytes: 4 * 1024 * 1024, types: ['x'], fields: ['data'], valid: [dagCbor.encode({ data: 'x' }), Uint8Array.from([0x0a, 0x02, 0x08, 0x01])] })
    })
    await fuzz('advertised protocols', inputs, async ({ protocol, sent }) => { await play(protocol, sent, 150) }, { runs: 60, ms: 8_000 })
    for (const protocol of others) console.info(`${protocol}: ${JSON.stringify(tally.get(protocol))}`)
    await checkHealthy()
  }, 30_000)

  it('slow peers: a stream never written and one fed a byte a second are cut at the first-message timeout; the daemon answers meanwhile', async () => {
    // sync waits SYNC_IDLE_TIMEOUT_MS (30 s) for a request: longer than this test runs, so its streams are only held
    const cutWithin10s = [JOB_PROTOCOL, DAG_PROTOCOL, TUNNEL_PROTOCOL]
    const held: Array<{ protocol: string, stream: Stream, ended: Promise<number>, trickle: boolean }> = []
    const opened = Date.now()
    for (const protocol of [...cutWithin10s, PROJECT_SYNC_PROTOCOL]) {
      for (const trickle of [false, true]) {
        const stream = await peer.open(protocol)
        if (stream == null) throw new Error(`${protocol} did not open`)
        const ended = new Promise<number>(resolve => { stream.addEventListener('close', () => { resolve(Date.now() - opened) }, { once: true }) })
        // a length prefix promising 1,000 bytes; the trickle then sends them one a second
        if (trickle) stream.send(varint(1000n))
        held.push({ protocol, stream, ended, trickle })
      }
    }
    try {
      for (let second = 0; second < 12; second++) {
        for (const h of held) if (h.trickle && h.stream.writeStatus === 'writable') h.stream.send(Uint8Array.of(second))
        await checkHealthy()
        await sleep(1_000)
      }
      for (const h of held.filter(h => cutWithin10s.includes(h.protocol))) {
        const at = await Promise.race([h.ended, sleep(1_000).then(() => Infinity)])
        expect(at, `${h.protocol} ${h.trickle ? 'trickled' : 'silent'} stream`).toBeLessThan(13_000)
      }
    } finally {
      for (const h of held) h.stream.abort(new Error('the slow peer is done'))
    }
    await checkHealthy()
  }, 40_000)

  it(`${JOB_PROTOCOL}: one peer may have at most 16 requests being read at once; past them it hears \`busy\``, async () => {
    const streams = (await Promise.all(Array.from({ length: 20 }, async () => await peer.open(JOB_PROTOCOL)))).filter(s => s != null)
    const busy = await Promise.all(streams.map(async stream => await new Promise<boolean>(resolve => {
      const parts: Buffer[] = []
      stream.addEventListener('message', event => { parts.push(Buffer.from(event.data.subarray())) })
      stream.addEventListener('close', () => { resolve(frames(Buffer.concat(parts)).some(f => decodeProviderMessage(f).type === 'refused')) }, { once: true })
      if (stream.writeStatus === 'writable') stream.send(concat([varint(BigInt(MAX_JOB_MESSAGE_BYTES)), new Uint8Array(1000)]))
      setTimeout(() => { stream.abort(new Error('held long enough')) }, 1_500)
    })))
    // streams refused while negotiating never opened here; every one that opened past 16 heard busy
    expect(busy.filter(b => !b).length).toBeLessThanOrEqual(16)
    expect(busy.filter(b => b).length + (20 - streams.length)).toBeGreaterThanOrEqual(4)
    await checkHealthy()
  }, 30_000)

  // The regression for JOB_MAX_PENDING_REQUESTS: before it, 24 peers took the daemon to 616 MiB (FUZZ_SEED-independent)
  it('floods: 24 fresh peers each holding every stream a connection may open, each with a message one byte short of its cap', async () => {
    const caps: Array<[string, number, number]> = [[JOB_PROTOCOL, MAX_JOB_MESSAGE_BYTES, 64], [TUNNEL_PROTOCOL, MAX_TUNNEL_MESSAGE_BYTES, 64], [PROJECT_SYNC_PROTOCOL, MAX_SYNC_REQUEST_BYTES, 8], [DAG_PROTOCOL, MAX_REQUEST_BYTES, 4]]
    // connected one after another (libp2p lets one address open 5 connections a second), then all flood at once
    const flooders: RawPeer[] = []
    for (let i = 0; i < Number(process.env.FUZZ_FLOODERS ?? 24); i++) {
      flooders.push(await rawPeer(address))
      await sleep(250)
    }
    const streams: Stream[] = []
    try {
      // every protocol from 3 of them; the job protocol (the one without a total before) from all
      await Promise.all(flooders.map(async (flooder, n) => {
        for (const [protocol, maxBytes, streamsPerConnection] of n < 3 ? caps : caps.slice(0, 1)) {
          // the cap and a few past it (those are refused), opened at once
          await Promise.all(Array.from({ length: streamsPerConnection + 2 }, async () => {
            const stream = await flooder.open(protocol)
            if (stream == null) return
            streams.push(stream)
            if (stream.writeStatus === 'writable') stream.send(concat([varint(BigInt(maxBytes)), new Uint8Array(maxBytes - 1)]))
          }))
        }
      }))
      for (let i = 0; i < 4; i++) {
        await checkHealthy()
        await sleep(500)
      }
    } finally {
      for (const stream of streams) stream.abort(new Error('the flood is over'))
      await Promise.all(flooders.map(async flooder => { await flooder.stop() }))
    }
    await checkHealthy()
  }, 60_000)

  it('the daemon keeps what it stored and logged no error', async () => {
    await checkHealthy()
    expect(await stored()).toEqual(before)
    expect(errorLines(d)).toEqual([])
  }, 30_000)
})
