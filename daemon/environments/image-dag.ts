import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import type { Blockstore } from 'interface-blockstore'
import { exporter, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { ACCELERATOR_LABEL, DESCRIPTION_LABEL, ENVIRONMENT_LABEL, MAX_CONFIG_BYTES, MAX_IMAGE_ENTRIES, MAX_MANIFEST_BYTES, type Accelerator } from '../../protocol/environments/environment.js'
import { ImageId } from '../../protocol/ids.js'
import { NotAnImageError } from './errors.js'
import { MANIFEST_FILE } from './image-tar.js'

/** One member of the image's tar, as the DAG holds it, in a walk's order (parents first). */
export type ImageMember =
  | { type: 'directory', path: string }
  | { type: 'file', path: string, cid: CID, bytes: number }
  | { type: 'symlink', path: string, target: string }

export interface ImageLayer {
  /** as manifest.json names it: `abc…/layer.tar` (or `blobs/sha256/…`) */
  path: string
  cid: CID
  bytes: number
  /** the uncompressed layer's digest, from the config's rootfs */
  diffId: string
}

/** What an image DAG holds, checked: one image, its config, its layers. */
export interface ImageDescription {
  root: CID
  /** the image id: `sha256:` + the config's digest, which `docker load` must give */
  id: string
  configPath: string
  layers: ImageLayer[]
  /** every member's content, summed */
  bytes: number
  members: ImageMember[]
  /** the manifest's one image entry, as read */
  manifest: Record<string, unknown>
  labels: Record<string, string>
  architecture: string | null
  os: string | null
}

const Manifest = z.array(z.looseObject({
  Config: z.string().min(1).max(1024),
  RepoTags: z.array(z.string()).nullable().optional(),
  Layers: z.array(z.string().min(1).max(1024)).max(MAX_IMAGE_ENTRIES)
}))

const ImageConfig = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z.looseObject({ Labels: z.record(z.string(), z.string()).nullable().optional() }).nullable().optional(),
  rootfs: z.looseObject({ type: z.literal('layers'), diff_ids: z.array(ImageId).max(MAX_IMAGE_ENTRIES) })
})

/** Every member under `root`, parents before children, names checked as single safe components. */
async function walkMembers (blockstore: Pick<Blockstore, 'get'>, root: CID, signal?: AbortSignal): Promise<ImageMember[]> {
  const members: ImageMember[] = []
  let top: UnixFSEntry
  try {
    top = await exporter(root, blockstore, { signal })
  } catch (err: any) {
    signal?.throwIfAborted()
    throw new NotAnImageError(`${root} is not UnixFS content (${err?.message ?? err}); an environment's DAG is a folder of docker save's members`)
  }
  if (top.type !== 'directory') throw new NotAnImageError(`${root} is a ${top.type === 'file' ? 'file' : top.type + ' node'}, not a folder of docker save's members`)
  const visit = async (dir: UnixFSEntry & { type: 'directory' }, prefix: string): Promise<void> => {
    for await (const child of dir.entries({ signal })) {
      if (child.name === '' || child.name === '.' || child.name === '..' || child.name.includes('/')) {
        throw new NotAnImageError(`${root} names a member ${JSON.stringify(child.name)} that is not a single path component`)
      }
      if (members.length >= MAX_IMAGE_ENTRIES) throw new NotAnImageError(`${root} has more than ${MAX_IMAGE_ENTRIES} members; a Docker image has a few per layer`)
      const path = prefix === '' ? child.name : `${prefix}/${child.name}`
      const entry = await exporter(child.cid, blockstore, { signal })
      if (entry.type === 'directory') {
        members.push({ type: 'directory', path })
        await visit(entry, path)
      } else if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
        members.push({ type: 'symlink', path, target: new TextDecoder().decode(entry.unixfs.data) })
      } else if (entry.type === 'file' || entry.type === 'raw') {
        members.push({ type: 'file', path, cid: child.cid, bytes: Number(entry.size) })
      } else {
        throw new NotAnImageError(`${root}: ${path} is a ${entry.type} node, not a file, folder or symlink`)
      }
    }
  }
  await visit(top, '')
  return members
}

/** The file at `path`, following symlinks within the image (docker save links a layer seen twice). */
function findFile (members: ReadonlyMap<string, ImageMember>, path: string): Extract<ImageMember, { type: 'file' }> | undefined {
  let current = path
  for (let hops = 0; hops < 8; hops++) {
    const member = members.get(current)
    if (member == null || member.type === 'directory') return undefined
    if (member.type === 'file') return member
    const next = posix.normalize(posix.join(posix.dirname(current), member.target))
    if (next.startsWith('../') || next.startsWith('/')) return undefined
    current = next
  }
  return undefined
}

export async function readSmallFile (blockstore: Pick<Blockstore, 'get'>, cid: CID, max: number, what: string, signal?: AbortSignal): Promise<Uint8Array> {
  const entry = await exporter(cid, blockstore, { signal })
  if (entry.type !== 'file' && entry.type !== 'raw') throw new NotAnImageError(`${what} is not a file`)
  if (entry.size > BigInt(max)) throw new NotAnImageError(`${what} is ${entry.size} bytes; at most ${max} are allowed`)
  const chunks: Uint8Array[] = []
  for await (const chunk of entry.content({ signal })) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function parseJson (bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch (err: any) {
    throw new NotAnImageError(`${what} is not JSON (${err?.message ?? err})`)
  }
}

/**
 * Reads and checks an image DAG (held whole in `blockstore`) before anything is loaded:
 * manifest.json names exactly one image, its config is there and is an image config, each
 * layer it lists is there and the config's rootfs has one diff id per layer. The image id is
 * the config's digest, which the caller compares with what it expected and with what Docker
 * reports after the load. Throws NotAnImageError with what is wrong.
 */
export async function describeImageDag (blockstore: Pick<Blockstore, 'get'>, root: CID, options: { signal?: AbortSignal } = {}): Promise<ImageDescription> {
  const { signal } = options
  const members = await walkMembers(blockstore, root, signal)
  const byPath = new Map(members.map(m => [m.path, m]))
  const manifestFile = byPath.get(MANIFEST_FILE)
  if (manifestFile?.type !== 'file') throw new NotAnImageError(`${root} has no manifest.json: it is not what docker save writes`)
  const parsed = Manifest.safeParse(parseJson(await readSmallFile(blockstore, manifestFile.cid, MAX_MANIFEST_BYTES, 'manifest.json', signal), 'manifest.json'))
  if (!parsed.success) throw new NotAnImageError(`${root}'s manifest.json is not a docker save manifest: ${z.prettifyError(parsed.error)}`)
  if (parsed.data.length !== 1) throw new NotAnImageError(`${root}'s manifest.json lists ${parsed.data.length} images; an environment is exactly one`)
  const manifest = parsed.data[0] as z.infer<typeof Manifest>[number]

  const configFile = findFile(byPath, manifest.Config)
  if (configFile == null) throw new NotAnImageError(`${root} lacks the image config ${manifest.Config} that its manifest names`)
  const configBytes = await readSmallFile(blockstore, configFile.cid, MAX_CONFIG_BYTES, `the config ${manifest.Config}`, signal)
  const config = ImageConfig.safeParse(parseJson(configBytes, `the config ${manifest.Config}`))
  if (!config.success) throw new NotAnImageError(`${root}'s ${manifest.Config} is not an image config: ${z.prettifyError(config.error)}`)
  const diffIds = config.data.rootfs.diff_ids
  if (diffIds.length !== manifest.Layers.length) {
    throw new NotAnImageError(`${root}'s config lists ${diffIds.length} layers and its manifest ${manifest.Layers.length}`)
  }
  const layers: ImageLayer[] = manifest.Layers.map((path, i) => {
    const file = findFile(byPath, path)
    if (file == null) throw new NotAnImageError(`${root} lacks the layer ${path} that its manifest names`)
    return { path, cid: file.cid, bytes: file.bytes, diffId: diffIds[i] as string }
  })
  return {
    root,
    id: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`,
    configPath: manifest.Config,
    layers,
    bytes: members.reduce((sum, m) => sum + (m.type === 'file' ? m.bytes : 0), 0),
    members,
    manifest,
    labels: config.data.config?.Labels ?? {},
    architecture: config.data.architecture ?? null,
    os: config.data.os ?? null
  }
}

/** What an image's labels say of it: its environment name, a description, CPU or CUDA. */
export function imageMetadata (labels: Readonly<Record<string, string>> | null | undefined): { name: string | null, description: string, accelerator: Accelerator } {
  const name = labels?.[ENVIRONMENT_LABEL]?.trim()
  return {
    name: name == null || name === '' ? null : name,
    description: labels?.[DESCRIPTION_LABEL] ?? '',
    accelerator: labels?.[ACCELERATOR_LABEL] === 'cuda' ? 'cuda' : 'cpu'
  }
}
