import { createReadStream, createWriteStream } from 'node:fs'
import { lstat, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { ContentPathError } from '../content/errors.js'
import { verifyBlock } from '../transfer/index.js'
import { walkDag } from './dag-walk.js'
import { CorruptCarError } from './errors.js'

export interface CarProgress { bytes: number, totalBytes: number | null }

/**
 * Writes the DAG under `root` as a CARv1 file (blocks in depth-first order). Written beside
 * `file` and renamed into place, so a failure leaves no partial CAR.
 */
export async function exportCar (blockstore: Pick<Blockstore, 'get' | 'has'>, root: CID, file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ blocks: number, bytes: number }> {
  try {
    await lstat(file)
    throw new ContentPathError(`${file} already exists; choose a path that does not exist yet`)
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  const staging = join(dirname(file), `.${basename(file)}.floe-partial-${process.pid}-${Date.now()}`)
  const { writer, out } = CarWriter.create([root])
  const written = pipeline(Readable.from(out), createWriteStream(staging, { flags: 'wx' }), { signal: options.signal })
  let blocks = 0
  let bytes = 0
  try {
    const feeding = (async () => {
      try {
        for await (const block of walkDag(blockstore, root, { withBytes: true, signal: options.signal })) {
          if (block.bytes == null) continue
          await writer.put({ cid: block.cid, bytes: block.bytes })
          blocks++
          bytes += block.bytes.byteLength
          options.onProgress?.({ bytes, totalBytes: null })
        }
      } finally {
        await writer.close()
      }
    })()
    await Promise.all([feeding, written])
    await rename(staging, file)
  } catch (err) {
    await rm(staging, { force: true })
    throw err
  }
  return { blocks, bytes }
}

/**
 * Reads a CAR file into the store. Every block is checked against its CID before it is
 * stored; the first one that does not match ends the import with CorruptCarError.
 */
export async function importCar (blockstore: Pick<Blockstore, 'put'>, file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ roots: CID[], blocks: number, bytes: number }> {
  let totalBytes: number
  try {
    totalBytes = (await lstat(file)).size
  } catch (err: any) {
    throw new ContentPathError(err?.code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${err?.message ?? err}`)
  }
  let reader
  try {
    reader = await CarBlockIterator.fromIterable(createReadStream(file, { signal: options.signal }))
  } catch (err: any) {
    throw new CorruptCarError(`${file} is not a CAR file: ${err?.message ?? err}`)
  }
  const roots = await reader.getRoots()
  let blocks = 0
  let bytes = 0
  try {
    for await (const { cid, bytes: block } of reader) {
      if (!(await verifyBlock(cid, block))) {
        throw new CorruptCarError(`block ${cid} in ${file} does not match its CID; nothing from this CAR was recorded`)
      }
      await blockstore.put(cid, block, { signal: options.signal })
      blocks++
      bytes += block.byteLength
      options.onProgress?.({ bytes, totalBytes })
    }
  } catch (err: any) {
    if (err?.name === 'CorruptCarError' || err?.name === 'AbortError' || err?.name === 'UnsupportedHashError') throw err
    throw new CorruptCarError(`${file} could not be read as a CAR file: ${err?.message ?? err}`)
  }
  return { roots, blocks, bytes }
}
