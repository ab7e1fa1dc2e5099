import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import type { Libp2p } from 'libp2p'
import { testPeerNode } from './test-peer.js'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { streamChannel } from '../../daemon/p2p/message-channel.js'
import { signRecord } from '../../daemon/p2p/signing.js'
import { dagTransferService } from '../../daemon/transfer/index.js'
import { encodeJobSpec, specCid, type JobSpec } from '../../protocol/jobs/spec.js'
import {
  decodeProviderMessage, encodeJobMessage, encodeJobRequest, JOB_PROTOCOL, JOB_REQUEST_SIGNING_DOMAIN,
  MAX_JOB_MESSAGE_BYTES, type ProviderMessage
} from '../../protocol/jobs/wire.js'

/**
 * A modified floe client: a real libp2p node that serves whatever blocks it is given over
 * floe's own `/floe/dag` sender and submits hand-made, correctly signed job requests over
 * `/floe/job`, so a test can send a provider what a stock client never would (a code root
 * that is a link, a DAG bomb, …).
 */
export interface HostileClient {
  peerId: string
  node: Libp2p
  blockstore: MemoryBlockstore
  /** puts a raw block or a dag-pb node, returning its CID */
  putRaw(bytes: Uint8Array): Promise<CID>
  putNode(node: dagPb.PBNode): Promise<CID>
  /** a UnixFS symlink node to `target` */
  symlink(target: string): Promise<CID>
  /** a UnixFS folder of named links */
  folder(entries: Record<string, CID>): Promise<CID>
  /** submits a job and reads the provider's messages until `finished` or `refused` (or the deadline) */
  submit(spec: Partial<JobSpec> & Pick<JobSpec, 'code' | 'command'>, options?: { timeoutMs?: number, cancelAfterMs?: number, protocol?: string, jobId?: string }): Promise<{ jobId: string, messages: ProviderMessage[] }>
  stop(): Promise<void>
}

export async function hostileClient (provider: { peerId: string, address: string }): Promise<HostileClient> {
  const { node, privateKey } = await testPeerNode()
  const blockstore = new MemoryBlockstore()
  // a modified client serves its own crafted content to anyone: the provider must fetch it
  const sender = dagTransferService({ libp2p: node, blockstore, access: { check: async () => {} } })
  await sender.start()
  await node.dial(multiaddr(provider.address))
  const peerId = node.peerId.toString()

  const putNode = async (pb: dagPb.PBNode): Promise<CID> => {
    const bytes = dagPb.encode(dagPb.prepare(pb))
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    await blockstore.put(cid, bytes)
    return cid
  }

  return {
    peerId,
    node,
    blockstore,
    async putRaw (bytes) {
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await blockstore.put(cid, bytes)
      return cid
    },
    putNode,
    async symlink (target) {
      return await putNode({ Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode(target) }).marshal(), Links: [] })
    },
    async folder (entries) {
      const links = Object.entries(entries).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([Name, Hash]) => ({ Name, Hash, Tsize: 0 }))
      return await putNode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: links })
    },
    async submit (partial, options = {}) {
      const spec: JobSpec = {
        version: 1,
        inputs: [],
        environment: 'busybox',
        resources: { cpus: 1, memoryBytes: 128 * 1024 * 1024, gpus: 0 },
        timeoutSeconds: 60,
        network: false,
        ...partial
      }
      const specBytes = encodeJobSpec(spec)
      const jobId = options.jobId ?? randomBytes(16).toString('hex')
      const request = encodeJobRequest({
        version: 1,
        jobId,
        client: peerId,
        provider: provider.peerId,
        spec: specBytes,
        specCid: await specCid(specBytes),
        maxPricePerHour: 1e6,
        issuedAt: Date.now()
      })
      const signature = await signRecord(privateKey, JOB_REQUEST_SIGNING_DOMAIN, request)
      const stream = await node.dialProtocol(multiaddr(provider.address), options.protocol ?? JOB_PROTOCOL)
      const channel = streamChannel(stream, provider.peerId, MAX_JOB_MESSAGE_BYTES)
      const signal = AbortSignal.timeout(options.timeoutMs ?? 60_000)
      await channel.send(encodeJobMessage({ type: 'submit', request, signature }))
      const messages: ProviderMessage[] = []
      const beat = setInterval(() => { channel.send(encodeJobMessage({ type: 'heartbeat' })).catch(() => {}) }, 1_000)
      const cancel = options.cancelAfterMs == null ? undefined : setTimeout(() => { channel.send(encodeJobMessage({ type: 'cancel' })).catch(() => {}) }, options.cancelAfterMs)
      try {
        while (true) {
          const bytes = await channel.read({ signal })
          if (bytes == null) break
          const message = decodeProviderMessage(bytes)
          messages.push(message)
          if (message.type === 'finished' || message.type === 'refused') break
        }
      } finally {
        clearInterval(beat)
        clearTimeout(cancel)
        channel.abort(new Error('done'))
      }
      return { jobId, messages }
    },
    async stop () {
      await sender.stop()
      await node.stop()
    }
  }
}

/** The log lines of a job as the provider sent them. */
export function linesOf (messages: ProviderMessage[]): string[] {
  return messages.flatMap(message => message.type === 'lines' ? message.lines.map(line => line.line) : [])
}
