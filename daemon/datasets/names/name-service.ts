import type { Connection, Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Dataset } from '../../../protocol/datasets/dataset.js'
import {
  DATASET_NAMES_PROTOCOL, decodeNameMessage, encodeNameMessage, MAX_NAME_MESSAGE_BYTES, MAX_NAME_RECORDS_PER_REPLY, NAME_MAX_INBOUND_STREAMS,
  NAME_MAX_OUTBOUND_STREAMS, NAME_MAX_PEERS_ASKED, NAME_TIMEOUT_MS, NameRecordError, nameRecordBytes, NameRequest, NameResponse,
  signedNameRecord, verifyNameRecord, type NameRecord, type SignedNameRecord
} from '../../../protocol/datasets/name-record.js'
import { DATASET_NAME_SIGNING_DOMAIN } from '../../../protocol/ids.js'
import type { Logger } from '../../log.js'
import { openControlStream } from '../../p2p/open-stream.js'
import { signRecord } from '../../p2p/signing.js'
import { NameConflictError, NameNotResolvedError } from '../errors.js'
import type { NameStore, StoredName } from './name-store.js'

export interface NameServiceComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'peerId'>
  privateKey: PrivateKey
  store: NameStore
  /** another owner's record was checked and kept: its content is public by its owner's word (the caller may serve it) */
  onForeignRecord?: (record: NameRecord) => Promise<void>
  log: Logger
}

/**
 * Dataset names that travel (protocol/datasets/name-record.ts): signs this node's public
 * versions, answers other peers' requests from the records held, and resolves other owners'
 * names by asking the owner, else connected peers, checking every record before keeping it.
 */
export function nameService ({ libp2p, privateKey, store, onForeignRecord, log }: NameServiceComponents) {
  const self = libp2p.peerId.toString()
  let started = false

  const serve = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(NAME_TIMEOUT_MS)
    const from = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_NAME_MESSAGE_BYTES })
    const request = decodeNameMessage(NameRequest, (await lp.read({ signal })).subarray(), from)
    const held = request.version != null
      ? [await store.get(request.owner, request.name, request.version)].filter((x): x is StoredName => x != null)
      : await store.list(request.owner, request.name, MAX_NAME_RECORDS_PER_REPLY)
    await lp.write(encodeNameMessage({ records: held.map(h => h.signed) }), { signal })
    await stream.close({ signal })
  }

  /** One peer's answer for OWNER/NAME[:N], every record checked; throws NameRecordError on anything off. */
  const ask = async (peer: string, request: NameRequest): Promise<Array<{ record: NameRecord, signed: SignedNameRecord }>> => {
    const signal = AbortSignal.timeout(NAME_TIMEOUT_MS)
    const stream = await openControlStream(libp2p, peerIdFromString(peer), DATASET_NAMES_PROTOCOL, { signal, maxOutboundStreams: NAME_MAX_OUTBOUND_STREAMS })
    let answer: NameResponse
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_NAME_MESSAGE_BYTES })
      await lp.write(encodeNameMessage(request), { signal })
      let bytes: Uint8Array
      try {
        bytes = (await lp.read({ signal })).subarray()
      } catch (err: any) {
        if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError' || err?.name === 'InvalidMessageLengthError') throw new NameRecordError(`${peer} sent a dataset-name answer over the ${MAX_NAME_MESSAGE_BYTES}-byte limit; nothing was stored`)
        throw err
      }
      answer = decodeNameMessage(NameResponse, bytes, peer)
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
    if (answer.error != null) throw new NameNotResolvedError(`${peer} could not answer for ${request.owner}/${request.name}: ${answer.error}`)
    const checked = []
    for (const signed of answer.records) checked.push({ record: await verifyNameRecord(signed, request, peer), signed })
    return checked
  }

  /** Keeps checked records, all or none: one that contradicts a record held refuses the whole answer. */
  const keep = async (records: StoredName[]): Promise<void> => {
    for (const r of records) {
      const held = await store.get(r.record.owner, r.record.name, r.record.version)
      if (held != null && held.record.cid !== r.record.cid) {
        throw new NameConflictError(`${r.record.owner}/${r.record.name}:${r.record.version} is known here as ${held.record.cid}, and a signed record now says ${r.record.cid}: a version names one content for ever; nothing was stored`)
      }
    }
    for (const r of records) {
      if (await store.put(r) === 'added') await onForeignRecord?.(r.record)
    }
  }

  const connectedPeers = (except: string): string[] =>
    [...new Set(libp2p.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))].filter(p => p !== except && p !== self)

  return {
    async start (): Promise<void> {
      if (started) return
      started = true
      await libp2p.handle(DATASET_NAMES_PROTOCOL, (stream, connection) => {
        serve(stream, connection).catch((err: Error) => {
          log.debug({ peer: connection.remotePeer.toString(), err: err.message }, 'dataset-name request failed')
          stream.abort(err)
        })
      }, { maxInboundStreams: NAME_MAX_INBOUND_STREAMS, maxOutboundStreams: NAME_MAX_OUTBOUND_STREAMS })
    },

    async stop (): Promise<void> {
      if (!started) return
      started = false
      await libp2p.unhandle(DATASET_NAMES_PROTOCOL)
    },

    /** Signs this node's record of a public version (and keeps it to answer with). */
    async sign (dataset: Dataset): Promise<NameRecord> {
      const record: NameRecord = {
        owner: self,
        name: dataset.name,
        version: dataset.version,
        cid: dataset.cid,
        bytes: dataset.bytes,
        files: dataset.files,
        cidVersion: dataset.cidVersion,
        chunker: dataset.chunker,
        publishedAt: new Date().toISOString(),
        message: dataset.message.slice(0, 200)
      }
      const payload = nameRecordBytes(record)
      const signature = await signRecord(privateKey, DATASET_NAME_SIGNING_DOMAIN, payload)
      await store.noteSigned(dataset.name, dataset.version)
      const held = await store.get(self, dataset.name, dataset.version)
      if (held?.record.cid === dataset.cid) return held.record
      if (held != null) await store.remove(self, dataset.name, dataset.version)
      await store.put({ record, signed: signedNameRecord(payload, signature) })
      return record
    },

    /** A version made private or removed: no longer answered for (peers that resolved it keep their copy). */
    async withdraw (dataset: Pick<Dataset, 'name' | 'version'>): Promise<void> {
      await store.remove(self, dataset.name, dataset.version)
    },

    /** The highest version this node ever signed for `name` (0 if none): new versions number past it. */
    async highestSigned (name: string): Promise<number> {
      return await store.highestSigned(name)
    },

    /**
     * OWNER's records for NAME (newest first), or the one of version N. This node's own come
     * from its store; a version already held is immutable and needs no asking; otherwise the
     * owner is asked, and when it cannot be reached, connected peers in turn (a member of a
     * project that used the dataset holds its record). A listing nobody could answer falls
     * back to the records held.
     */
    async lookup (owner: string, name: string, version?: number, options: { signal?: AbortSignal } = {}): Promise<NameRecord[]> {
      const label = `${owner}/${name}${version == null ? '' : `:${version}`}`
      if (owner === self) {
        const own = version == null ? await store.list(self, name) : [await store.get(self, name, version)].filter((x): x is StoredName => x != null)
        return own.map(o => o.record)
      }
      if (version != null) {
        const held = await store.get(owner, name, version)
        if (held != null) return [held.record]
      }
      const request: NameRequest = version == null ? { owner, name } : { owner, name, version }
      let ownerError: string
      try {
        const answer = await ask(owner, request)
        await keep(answer)
        if (version != null && answer.length === 0) {
          const newest = (await store.list(owner, name, 1))[0]?.record.version
          throw new NameNotResolvedError(`${owner} has published no version ${version} of "${name}"${newest == null ? '' : ` (its newest known here is ${newest})`}; see floe data ls ${owner}/${name}`)
        }
        return answer.map(a => a.record)
      } catch (err: any) {
        if (err?.name === 'NameRecordError' || err?.name === 'NameConflictError' || err?.name === 'NameNotResolvedError') throw err
        ownerError = err?.message ?? String(err)
      }
      options.signal?.throwIfAborted()
      // the owner is out of reach: a connected peer may hold its signed records
      let peerError: Error | undefined
      for (const peer of connectedPeers(owner).slice(0, NAME_MAX_PEERS_ASKED)) {
        try {
          const answer = await ask(peer, request)
          if (answer.length === 0) continue
          await keep(answer)
          return answer.map(a => a.record)
        } catch (err: any) {
          log.info({ peer, name: label, err: err?.message }, 'a peer could not answer for a dataset name')
          if (err?.name === 'NameRecordError' || err?.name === 'NameConflictError') peerError ??= err
        }
      }
      if (peerError != null) throw peerError
      if (version == null) {
        const held = await store.list(owner, name, MAX_NAME_RECORDS_PER_REPLY)
        if (held.length > 0) return held.map(h => h.record)
      }
      throw new NameNotResolvedError(`could not resolve ${label}: its owner could not be reached (${ownerError}) and no connected peer holds the name; connect to the owner (floe connect ADDR) or to a member of a project that uses it`)
    }
  }
}
export type NameService = ReturnType<typeof nameService>
