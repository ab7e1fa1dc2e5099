import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as dagCbor from '@ipld/dag-cbor'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { DAG_PROTOCOL, lengthPrefixed, DAG_MAX_HAVE_CIDS } from '../../protocol/transfer/dag.js'
import { floe, floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'

/**
 * Robustness item 2: `/floe/dag/1.0.0` amplification. The attack as reported: a raw peer
 * opens many connections and on every stream sends a request listing the most `have` CIDs
 * allowed (200,000 then, 8.2 MB of sha2-256 CIDs; now DAG_MAX_HAVE_CIDS), for a DAG the daemon
 * serves to anyone, and never reads the answer, so each transfer holds its request state.
 * 4 such streams took a daemon from 0.49 to 1.28 GB resident, 48 to 3.4 GB.
 *
 * Budget: the daemon's resident memory grows by at most RSS_BUDGET_MB over its idle level
 * while 48 streams (12 connections × 4) attack, and it answers `floe id` within 2 s. With the
 * caps (a request ≤ ~720 KiB refused by its length prefix; 4 transfers and 2 full requests
 * per peer) the decoded state is 2 requests' worth (~90 MB of transient heap at the most).
 */
const RSS_BUDGET_MB = 200
const CONNECTIONS = 12
const STREAMS_PER_CONNECTION = 4

const r = resources()
const nodes: Libp2p[] = []
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map(async n => { await n.stop() }))
  await r.cleanup()
})

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1])
  return kb / 1024
}

async function haveList (count: number): Promise<CID[]> {
  const cids: CID[] = []
  for (let i = 0; i < count; i++) cids.push(CID.createV1(raw.code, await sha256.digest(new Uint8Array([i & 255, (i >> 8) & 255, i >> 16]))))
  return cids
}

/** Sends one length-prefixed request on a new stream and never reads: the transfer's state stays held. */
async function attack (connection: Connection, request: Uint8Array): Promise<Stream | undefined> {
  try {
    const stream = await connection.newStream(DAG_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    for (const part of lengthPrefixed([request])) {
      if (!stream.send(part)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) })
    }
    return stream
  } catch {
    // a stream refused or reset by the daemon is the defence working
    return undefined
  }
}

describe('/floe/dag request amplification', () => {
  it(`48 streams of maximum have lists keep the daemon up, answering floe id in 2 s, within ${RSS_BUDGET_MB} MB of its idle RSS`, async () => {
    const daemon = r.daemon(await startDaemon(r.folder(await tempHome())))
    const dir = r.folder(await tempHome('floe-public-'))
    // 8 MiB: more than the send window, so a receiver that never acknowledges holds the transfer open
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 7))
    const dataset = await floeJson(['data', 'upload', dir, '--name', 'open', '--public', '--home', daemon.home])
    const root = CID.parse(dataset.cid)
    const addr = multiaddr((await floeJson(['id', '--home', daemon.home])).addresses[0] as string)
    await sleep(1000)
    const idle = await rssMb(daemon.process.pid as number)

    const attacker = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    nodes.push(attacker)
    const have = await haveList(200_000)
    // the reported input (200,000 CIDs, 8.2 MB), and the most the protocol now allows
    const old = dagCbor.encode({ root, have })
    const allowed = dagCbor.encode({ root, have: have.slice(0, DAG_MAX_HAVE_CIDS) })
    const connections: Connection[] = []
    for (let i = 0; i < CONNECTIONS; i++) {
      // the daemon's connection manager may refuse some: the attack goes on with those it took
      await attacker.dial(addr, { force: true }).then(c => connections.push(c), () => {})
    }
    expect(connections.length).toBeGreaterThan(0)
    const streams = await Promise.all(connections.flatMap((c, i) => Array.from({ length: STREAMS_PER_CONNECTION }, async (_, j) => await attack(c, (i + j) % 2 === 0 ? old : allowed))))

    let peak = idle
    for (let i = 0; i < 10; i++) {
      await sleep(500)
      peak = Math.max(peak, await rssMb(daemon.process.pid as number))
    }
    const started = Date.now()
    const id = await floe(['id', '--json', '--home', daemon.home], { timeoutMs: 10_000 })
    const idMs = Date.now() - started
    peak = Math.max(peak, await rssMb(daemon.process.pid as number))
    console.info(`idle RSS ${idle.toFixed(0)} MB, peak under attack ${peak.toFixed(0)} MB, floe id in ${idMs} ms, connections ${connections.length}, streams opened ${streams.filter(s => s != null).length}`)

    expect(id.code, id.stderr).toBe(0)
    expect(JSON.parse(id.stdout).peerId).toBe(daemon.endpoint.peerId)
    expect(idMs).toBeLessThan(2_000)
    expect(peak - idle).toBeLessThan(RSS_BUDGET_MB)
    for (const stream of streams) stream?.abort(new Error('done'))
  })
})
