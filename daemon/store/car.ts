import { createReadStream, createWriteStream } from 'node:fs'
import { lstat, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import { walkDag } from './dag-walk.js'
import { ContentPathError, CorruptCarError } from './errors.js'
import { verifyBlock } from './verify-block.js'

export interface CarProgress { bytes: number, totalBytes: number | null }

/**
 * Writes the DAG under `root` as a CARv1 file (blocks in depth-first order). Written beside
 * `file` and renamed into place, so a failure leaves no partial CAR.
 */
export async function exportCar (blockstore: Pick<Blockstore, 'get' | 'has'>, root: CID, file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ blocks: number, bytes: number }> {
  return await writeCar(file, [root], (async function * () {
    for await (const block of walkDag(blockstore, root, { withBytes: true, signal: options.signal })) {
      if (block.bytes != null) yield { cid: block.cid, bytes: block.bytes }
    }
  })(), options)
}

/** Writes `blocks` as a CARv1 file with these roots, beside `file` and renamed into place. */
export async function writeCar (file: string, roots: CID[], blocks: AsyncIterable<{ cid: CID, bytes: Uint8Array }>, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ blocks: number, bytes: number }> {
  try {
    await lstat(file)
    throw new ContentPathError(`${file} already exists; choose a path that does not exist yet`)
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  const staging = join(dirname(file), `.${basename(file)}.floe-partial-${process.pid}-${Date.now()}`)
  const { writer, out } = CarWriter.create(roots)
  const written = pipeline(Readable.from(out), createWriteStream(staging, { flags: 'wx' }), { signal: options.signal })
  let count = 0
  let bytes = 0
  try {
    const feeding = (async () => {
      try {
        for await (const block of blocks) {
          options.signal?.throwIfAborted()
          await writer.put(block)
          count++
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
  return { blocks: count, bytes }
}

/**
 * Reads a CAR file into the store. Every block is checked against its CID before it is
 * stored; the first one that does not match ends the import with CorruptCarError.
 */
export async function importCar (blockstore: Pick<Blockstore, 'put'>, file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ roots: CID[], blocks: number, bytes: number }> {
  const car = await readCar(file, options)
  let blocks = 0
  let bytes = 0
  for await (const block of car.blocks) {
    await blockstore.put(block.cid, block.bytes, { signal: options.signal })
    blocks++
    bytes += block.bytes.byteLength
  }
  return { roots: car.roots, blocks, bytes }
}

/** A CAR file's roots, and its blocks, each checked against its CID (CorruptCarError when one does not match). */
export async function readCar (file: string, options: { signal?: AbortSignal, onProgress?: (p: CarProgress) => void } = {}): Promise<{ roots: CID[], blocks: AsyncGenerator<{ cid: CID, bytes: Uint8Array }> }> {
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
  const iterator = reader
  return {
    roots,
    blocks: (async function * () {
      let bytes = 0
      try {
        for await (const { cid, bytes: block } of iterator) {
          if (!(await verifyBlock(cid, block))) {
            throw new CorruptCarError(`block ${cid} in ${file} does not match its CID; nothing from this CAR was recorded`)
          }
          bytes += block.byteLength
          options.onProgress?.({ bytes, totalBytes })
          yield { cid, bytes: block }
        }
      } catch (err: any) {
        if (err?.name === 'CorruptCarError' || err?.name === 'AbortError' || err?.name === 'UnsupportedHashError') throw err
        throw new CorruptCarError(`${file} could not be read as a CAR file: ${err?.message ?? err}`)
      }
    })()
  }
}
