import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { MemoryBlockstore } from 'blockstore-core'
import { extract, pack } from 'tar-stream'
import { describe, expect, it } from 'vitest'
import { describeImageDag } from '../../../../daemon/environments/image-dag.js'
import { imageTarStream } from '../../../../daemon/environments/image-stream.js'
import { importImageTar, memberPath } from '../../../../daemon/environments/image-tar.js'

type Member = { name: string, bytes?: Uint8Array, type?: 'file' | 'directory' | 'symlink' | 'link', linkname?: string }

/** A tar in memory, members in order. */
/** One time for every member: tar-stream stamps the clock otherwise, and two layers built a second apart would differ. */
const MTIME = new Date('2026-01-01T00:00:00Z')

async function tarOf (members: Member[]): Promise<Buffer> {
  const packer = pack()
  for (const m of members) {
    if (m.type === 'directory') packer.entry({ name: m.name, type: 'directory', mtime: MTIME })
    else if (m.type === 'symlink' || m.type === 'link') packer.entry({ name: m.name, type: m.type, linkname: m.linkname ?? '', mtime: MTIME })
    else packer.entry({ name: m.name, mtime: MTIME }, Buffer.from(m.bytes ?? new Uint8Array()))
  }
  packer.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of packer as unknown as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** A layer: a tar of files. */
async function layer (files: Record<string, Uint8Array | string>): Promise<Buffer> {
  return await tarOf(Object.entries(files).map(([name, bytes]) => ({ name, bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes })))
}

/**
 * What docker save (legacy layout) writes for an image of these layers: a folder per layer
 * (VERSION, json, layer.tar), the config `<id>.json`, manifest.json and repositories.
 */
async function savedImage (layers: Buffer[], options: { tags?: string[], label?: string, extra?: Member[] } = {}): Promise<{ tar: Buffer, id: string, config: Buffer }> {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: options.label == null ? null : { 'org.floe.environment': options.label } },
    rootfs: { type: 'layers', diff_ids: layers.map(sha256) }
  }))
  const id = sha256(config)
  const dirs = layers.map(l => createHash('sha256').update(l).update('v1').digest('hex'))
  const members: Member[] = []
  layers.forEach((l, i) => {
    members.push({ name: `${dirs[i]}/`, type: 'directory' }, { name: `${dirs[i]}/VERSION`, bytes: Buffer.from('1.0') }, { name: `${dirs[i]}/json`, bytes: Buffer.from('{}') }, { name: `${dirs[i]}/layer.tar`, bytes: l })
  })
  members.push({ name: `${id.slice(7)}.json`, bytes: config })
  members.push({ name: 'manifest.json', bytes: Buffer.from(JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: options.tags ?? null, Layers: dirs.map(d => `${d}/layer.tar`) }])) })
  if (options.tags != null) members.push({ name: 'repositories', bytes: Buffer.from('{"x":{"latest":"abc"}}') })
  members.push(...(options.extra ?? []))
  return { tar: await tarOf(members), id, config }
}

async function importTar (store: MemoryBlockstore, tar: Buffer) {
  return await importImageTar(store, Readable.from([tar]), { what: 'the test tar' })
}

/** Every member of a tar: name → bytes. */
async function membersOf (stream: AsyncIterable<Uint8Array>): Promise<Map<string, Buffer>> {
  const extractor = extract()
  const feeding = (async () => { for await (const chunk of stream) extractor.write(chunk); extractor.end(undefined) })()
  const out = new Map<string, Buffer>()
  for await (const entry of extractor as unknown as AsyncIterable<AsyncIterable<Buffer> & { header: { name: string } }>) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk)
    out.set(entry.header.name, Buffer.concat(chunks))
  }
  await feeding
  return out
}

describe('images as DAGs', () => {
  it('maps a docker save tar to a folder of its members and back, layer bytes equal, tags replaced', async () => {
    const base = await layer({ 'bin/tool': randomBytes(3 * 1024 * 1024 + 17) })
    const top = await layer({ 'etc/hello': 'hello\n' })
    const saved = await savedImage([base, top], { tags: ['mine:latest'], label: 'mine' })
    const store = new MemoryBlockstore()
    const imported = await importTar(store, saved.tar)
    const image = await describeImageDag(store, imported.cid)
    expect(image.id).toBe(saved.id)
    expect(image.layers.map(l => [l.bytes, l.diffId])).toEqual([[base.byteLength, sha256(base)], [top.byteLength, sha256(top)]])
    expect(image.labels).toEqual({ 'org.floe.environment': 'mine' })
    expect(image.members.some(m => m.path === 'repositories')).toBe(false)
    expect(image.manifest.RepoTags).toBeNull()
    expect(imported.bytes).toBe(image.bytes)

    const rebuilt = await membersOf(imageTarStream(store, image, { repoTags: ['floe-env/mine:abc'] }) as unknown as AsyncIterable<Uint8Array>)
    expect(rebuilt.get(image.layers[0]?.path ?? '')?.equals(base)).toBe(true)
    expect(rebuilt.get(image.layers[1]?.path ?? '')?.equals(top)).toBe(true)
    expect(rebuilt.get(`${saved.id.slice(7)}.json`)?.equals(saved.config)).toBe(true)
    expect(JSON.parse(String(rebuilt.get('manifest.json')))[0].RepoTags).toEqual(['floe-env/mine:abc'])
  })

  it('gives the same image the same CID whatever it was tagged, and a shared layer one CID in both images', async () => {
    const base = await layer({ 'bin/tool': randomBytes(2 * 1024 * 1024) })
    const store = new MemoryBlockstore()
    const a = await importTar(store, (await savedImage([base, await layer({ a: 'a' })], { tags: ['one:1'] })).tar)
    const again = await importTar(store, (await savedImage([base, await layer({ a: 'a' })], { tags: ['two:2'] })).tar)
    expect(again.cid.equals(a.cid)).toBe(true)
    const b = await importTar(store, (await savedImage([base, await layer({ b: 'b' })])).tar)
    const [first, second] = [await describeImageDag(store, a.cid), await describeImageDag(store, b.cid)]
    expect(second.layers[0]?.cid.equals(first.layers[0]?.cid as any)).toBe(true)
    expect(second.layers[1]?.cid.equals(first.layers[1]?.cid as any)).toBe(false)
  })

  it('follows a symlinked layer (docker save links a layer it wrote already)', async () => {
    const base = await layer({ x: 'x' })
    const saved = await savedImage([base], { extra: [{ name: 'dup/', type: 'directory' }, { name: 'dup/layer.tar', type: 'symlink', linkname: '../other/layer.tar' }] })
    const store = new MemoryBlockstore()
    const image = await describeImageDag(store, (await importTar(store, saved.tar)).cid)
    expect(image.members).toContainEqual({ type: 'symlink', path: 'dup/layer.tar', target: '../other/layer.tar' })
    const rebuilt = await membersOf(imageTarStream(store, image, { repoTags: [] }) as unknown as AsyncIterable<Uint8Array>)
    expect(rebuilt.has('dup/layer.tar')).toBe(true)
  })

  it('refuses what is not a Docker image, saying why', async () => {
    const store = new MemoryBlockstore()
    const base = await layer({ x: 'x' })
    await expect(importTar(store, randomBytes(4096))).rejects.toThrow(/is not a tar archive/)
    await expect(importTar(store, await tarOf([]))).rejects.toThrow(/empty tar/)
    await expect(importTar(store, await tarOf([{ name: '../evil', bytes: Buffer.from('x') }]))).rejects.toThrow(/not a plain relative path/)
    await expect(importTar(store, await tarOf([{ name: 'a', bytes: Buffer.from('x') }, { name: 'b', type: 'link', linkname: 'a' }]))).rejects.toThrow(/link member "b"/)

    const noManifest = await importTar(store, await tarOf([{ name: 'hello.txt', bytes: Buffer.from('hi') }]))
    await expect(describeImageDag(store, noManifest.cid)).rejects.toThrow(/has no manifest\.json/)

    const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256(base)] } }))
    const missingLayer = await importTar(store, await tarOf([{ name: 'c.json', bytes: config }, { name: 'manifest.json', bytes: Buffer.from(JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar'] }])) }]))
    await expect(describeImageDag(store, missingLayer.cid)).rejects.toThrow(/lacks the layer l\/layer\.tar/)

    const twoLayers = await importTar(store, await tarOf([{ name: 'c.json', bytes: config }, { name: 'l/layer.tar', bytes: base }, { name: 'm/layer.tar', bytes: base }, { name: 'manifest.json', bytes: Buffer.from(JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar', 'm/layer.tar'] }])) }]))
    await expect(describeImageDag(store, twoLayers.cid)).rejects.toThrow(/config lists 1 layers and its manifest 2/)

    const notConfig = await importTar(store, await tarOf([{ name: 'c.json', bytes: Buffer.from('{"hello": 1}') }, { name: 'manifest.json', bytes: Buffer.from(JSON.stringify([{ Config: 'c.json', Layers: [] }])) }]))
    await expect(describeImageDag(store, notConfig.cid)).rejects.toThrow(/is not an image config/)

    const twoImages = await importTar(store, await tarOf([{ name: 'manifest.json', bytes: Buffer.from(JSON.stringify([{ Config: 'a', Layers: [] }, { Config: 'b', Layers: [] }])) }]))
    await expect(describeImageDag(store, twoImages.cid)).rejects.toThrow(/lists 2 images; an environment is exactly one/)

    const garbled = await importTar(store, await tarOf([{ name: 'manifest.json', bytes: Buffer.from('not json') }]))
    await expect(describeImageDag(store, garbled.cid)).rejects.toThrow(/manifest\.json is not JSON/)
  })

  it('keeps member names to plain relative paths', () => {
    expect(memberPath('./abc/layer.tar')).toBe('abc/layer.tar')
    expect(memberPath('abc/')).toBe('abc')
    expect(memberPath('./')).toBe('')
    for (const bad of ['/etc/passwd', 'a/../../b', 'a//b', 'a/./b']) expect(() => memberPath(bad), bad).toThrow(/not a plain relative path/)
  })
})
