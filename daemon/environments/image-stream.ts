import { once } from 'node:events'
import type { Readable } from 'node:stream'
import type { Blockstore } from 'interface-blockstore'
import { exporter } from 'ipfs-unixfs-exporter'
import { pack, type Pack } from 'tar-stream'
import type { ImageDescription } from './image-dag.js'
import { MANIFEST_FILE } from './image-tar.js'

/** Members are written with fixed metadata: docker load reads contents, not modes or times. */
const EPOCH = new Date(0)

type EntryHeader = Parameters<Pack['entry']>[0]

async function writeEntry (packer: Pack, header: EntryHeader, content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onBytes: (n: number) => void): Promise<void> {
  let done!: (err?: Error | null) => void
  const finished = new Promise<void>((resolve, reject) => { done = err => { if (err != null) reject(err); else resolve() } })
  const sink = packer.entry(header, done)
  for await (const chunk of content) {
    onBytes(chunk.byteLength)
    if (!sink.write(chunk)) await once(sink as unknown as NodeJS.EventEmitter, 'drain')
  }
  sink.end(undefined)
  await finished
}

/**
 * The image's tar rebuilt from its DAG, as a stream: each file is read from the store as the
 * consumer (docker load) takes it, so an image of GBs never sits in memory. manifest.json
 * gets `repoTags`, so the loaded image is tagged as floe names it. `members` come from
 * describeImageDag, which checked them.
 */
export function imageTarStream (blockstore: Pick<Blockstore, 'get'>, image: ImageDescription, options: { repoTags: string[], signal?: AbortSignal, onProgress?: (bytes: number) => void }): Readable {
  const packer = pack()
  let bytes = 0
  const onBytes = (n: number): void => {
    bytes += n
    options.onProgress?.(bytes)
  }
  const write = async (): Promise<void> => {
    for (const member of image.members) {
      options.signal?.throwIfAborted()
      if (member.type === 'directory') {
        packer.entry({ name: `${member.path}/`, type: 'directory', mode: 0o755, mtime: EPOCH })
      } else if (member.type === 'symlink') {
        packer.entry({ name: member.path, type: 'symlink', linkname: member.target, mode: 0o777, mtime: EPOCH })
      } else if (member.path === MANIFEST_FILE) {
        const manifest = Buffer.from(JSON.stringify([{ ...image.manifest, RepoTags: options.repoTags }]))
        await writeEntry(packer, { name: member.path, type: 'file', size: manifest.byteLength, mode: 0o644, mtime: EPOCH }, [manifest], () => {})
      } else {
        const file = await exporter(member.cid, blockstore, { signal: options.signal })
        if (file.type !== 'file' && file.type !== 'raw') throw new Error(`${member.path} is no longer a file`)
        await writeEntry(packer, { name: member.path, type: 'file', size: member.bytes, mode: 0o644, mtime: EPOCH }, file.content({ signal: options.signal }), onBytes)
      }
    }
    packer.finalize()
  }
  write().catch((err: Error) => { packer.destroy(err) })
  return packer as unknown as Readable
}
