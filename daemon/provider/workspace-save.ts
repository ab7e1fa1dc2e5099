import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { SAVED_CODE, SAVED_HOME, SAVED_MARKER, SAVED_MARKER_TEXT } from '../../protocol/workspaces/identity.js'
import type { ImportSummary } from '../content/index.js'
import { syncBlocks } from '../store/stores.js'
import { importJobFolder, type ImportJobFolderComponents } from './import-job-folder.js'

/**
 * Saves a workspace: its home and its /code (edits there are kept, as FloydHub kept
 * /floyd/code), each imported as importJobFolder does, joined in one UnixFS folder
 * `{ .floe-workspace, code/, home/ }` (protocol/workspaces/identity.ts). Call it only while
 * the container is stopped or paused. The client's restart splits it again
 * (daemon/workspaces/saved-workspace.ts); `floe output` of a workspace writes both folders.
 */
export async function saveWorkspace (components: ImportJobFolderComponents, folders: { home: string, code: string }): Promise<ImportSummary> {
  const home = await importJobFolder(components, folders.home)
  const code = await importJobFolder(components, folders.code)
  return await components.guard.shared(async () => {
    const markerBytes = new TextEncoder().encode(SAVED_MARKER_TEXT)
    const marker = CID.createV1(raw.code, await sha256.digest(markerBytes))
    await components.blockstore.put(marker, markerBytes)
    // links in byte order of their names, as UnixFS folders have them
    const links = [
      { Name: SAVED_MARKER, Hash: marker, Tsize: markerBytes.byteLength },
      { Name: SAVED_CODE, Hash: code.cid, Tsize: code.bytes },
      { Name: SAVED_HOME, Hash: home.cid, Tsize: home.bytes }
    ].sort((a, b) => Buffer.compare(Buffer.from(a.Name), Buffer.from(b.Name)))
    const block = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: links }))
    const root = CID.createV1(dagPb.code, await sha256.digest(block))
    await components.blockstore.put(root, block)
    await syncBlocks(components.blocksPath)
    return { cid: root, bytes: home.bytes + code.bytes + markerBytes.byteLength, files: home.files + code.files + 1, cidVersion: home.cidVersion, chunker: home.chunker }
  })
}
