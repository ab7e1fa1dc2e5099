import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { afterEach, describe, expect, it } from 'vitest'
import { startBitswap } from '../../daemon/store/bitswap.js'
import { fetchDag } from '../../daemon/transfer/index.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'

/**
 * Item 8: blocks go only to peers entitled to them. A stranger is a raw libp2p peer speaking
 * `/floe/dag/1.0.0` (and bitswap, and gossipsub) to a daemon that holds a project, a job's
 * code and spec, a private and a public dataset. (The job's provider fetching a job's code,
 * inputs and image from its client is test/integration/jobs.test.ts and environments.test.ts.)
 */

const r = resources()
const peers: Libp2p[] = []
afterEach(async () => {
  await Promise.allSettled(peers.splice(0).map(async p => { await p.stop() }))
  await r.cleanup()
})

async function rawPeer (): Promise<Libp2p<{ pubsub: GossipSub, identify: unknown }>> {
  const peer = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ emitSelf: false }) }
  })
  peers.push(peer)
  return peer
}

async function folder (files: Record<string, string>): Promise<string> {
  const dir = r.folder(await tempHome('floe-content-'))
  await mkdir(dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return dir
}

/** Fetches `root` from the daemon into an empty store: the error (if any) and how many blocks arrived. */
async function fetchFrom (peer: Libp2p, daemon: RunningDaemon, root: string): Promise<{ err: any, blocks: number }> {
  const store = new MemoryBlockstore()
  let err: any
  try {
    await fetchDag({ libp2p: peer, blockstore: store }, peerIdFromString(daemon.endpoint.peerId), CID.parse(root), { signal: AbortSignal.timeout(15_000) })
  } catch (e) {
    err = e
  }
  let blocks = 0
  for await (const _ of store.getAll()) blocks++
  return { err, blocks }
}

async function connect (peer: Libp2p, daemon: RunningDaemon): Promise<void> {
  const addr = (await floeJson(['id', '--home', daemon.home])).addresses[0] as string
  await peer.dial(multiaddr(addr))
}

describe('who may fetch a daemon\'s blocks', () => {
  it('refuses a stranger the project log, a job\'s code and spec and a private dataset; serves members and public datasets', async () => {
    const owner = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const code = await folder({ 'train.sh': 'echo secret-training > /output/model.txt\n' })
    const init = await floeJson(['init', 'secret', '--path', code, '--home', owner.home])
    const pid: string = init.id
    const run = await floe(['run', '--home', owner.home, '--path', code, '--json', '--follow', '--', 'sh', 'train.sh'], { timeoutMs: 60_000 })
    expect(run.code, run.stderr).toBe(0)
    const job = JSON.parse(run.stdout)
    const project = (await floeJson(['projects', '--home', owner.home])).find((p: any) => p.id === pid)
    const head: string = project.heads[0]
    const data = await folder({ 'private.csv': 'a,b\n1,2\n' })
    const privateSet = await floeJson(['data', 'upload', data, '--name', 'private-set', '--home', owner.home])
    const publicSet = await floeJson(['data', 'upload', await folder({ 'open.csv': 'x\n1\n' }), '--name', 'open-set', '--public', '--home', owner.home])
    expect(privateSet.public).toBe(false)
    expect(publicSet.public).toBe(true)

    const stranger = await rawPeer()
    await connect(stranger, owner)
    for (const root of [head, pid, job.spec.code, job.specCid, job.outputCid, privateSet.cid]) {
      const got = await fetchFrom(stranger, owner, root)
      expect(got.err, `a stranger fetched ${root}`).toMatchObject({ name: 'NotEntitledError', message: expect.stringContaining('not entitled') })
      expect(got.blocks).toBe(0)
    }
    // anyone gets a public dataset
    expect(await fetchFrom(stranger, owner, publicSet.cid)).toEqual({ err: undefined, blocks: 2 })

    // bitswap serves nothing private either (it cannot tell peers apart: public blocks only)
    const swap = await startBitswap({ libp2p: stranger as any, blockstore: new MemoryBlockstore(), serves: new MemoryBlockstore() })
    try {
      const read = async (cid: string): Promise<unknown> => {
        const chunks: Uint8Array[] = []
        for await (const chunk of swap.networkStore.get(CID.parse(cid), { signal: AbortSignal.timeout(3_000) })) chunks.push(chunk)
        return chunks.length
      }
      await expect(read(privateSet.cid)).rejects.toThrow()
      await expect(read(job.spec.code)).rejects.toThrow()
      await expect(read(publicSet.cid)).resolves.toBe(1)
    } finally {
      await swap.stop()
    }

    // published later: then anyone gets it; private again: refused again
    await floeJson(['data', 'publish', 'private-set', '--home', owner.home])
    expect((await fetchFrom(stranger, owner, privateSet.cid)).err).toBeUndefined()
    await floeJson(['data', 'publish', 'private-set', '--private', '--home', owner.home])
    expect((await fetchFrom(stranger, owner, privateSet.cid)).err).toMatchObject({ name: 'NotEntitledError' })

    // a member gets the log, and the code, spec and output of the owner's job
    const member = await rawPeer()
    await floeJson(['project', 'add-member', member.peerId.toString(), '--project', pid, '--home', owner.home])
    await connect(member, owner)
    for (const root of [head, job.spec.code, job.specCid, job.outputCid]) {
      const got = await fetchFrom(member, owner, root)
      expect(got.err, `a member could not fetch ${root}`).toBeUndefined()
      expect(got.blocks).toBeGreaterThan(0)
    }
    // but not a dataset the project does not use
    expect((await fetchFrom(member, owner, privateSet.cid)).err).toMatchObject({ name: 'NotEntitledError' })
  })

  it('a stranger in the gossip mesh sees no project id in the topics members subscribe to', async () => {
    const owner = r.daemon(await startDaemon(r.folder(await tempHome())))
    const init = await floeJson(['init', 'hidden', '--path', await folder({ 'a.txt': 'a' }), '--home', owner.home])
    const stranger = await rawPeer()
    await connect(stranger, owner)
    const seen = (): string[] => [...((stranger.services.pubsub as any).topics as Map<string, Set<string>>).keys()]
    // the owner's subscriptions reach the stranger once gossipsub's streams are up
    await expect.poll(() => seen().some(t => t.startsWith('floe/project/')), { timeout: 10_000 }).toBe(true)
    expect(seen().filter(t => t.includes(init.id))).toEqual([])
  })
})
