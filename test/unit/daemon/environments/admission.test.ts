import { tmpdir } from 'node:os'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { environmentCache } from '../../../../daemon/environments/environment-cache.js'
import { environmentRecords, type EnvironmentIndex } from '../../../../daemon/environments/records.js'
import { applySetting } from '../../../../daemon/market/provider-settings.js'
import { matchOffers } from '../../../../daemon/market/match.js'
import { gcGuard } from '../../../../daemon/store/gc-guard.js'
import type { JobSpec } from '../../../../protocol/jobs/spec.js'
import { Requirements } from '../../../../protocol/market/requirements.js'
import { ProviderSettings } from '../../../../protocol/market/settings.js'
import { sampleOffer } from '../../../helpers/offers.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const NOW = 1_800_000_000_000
const ROOT = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
const ID = `sha256:${'ab'.repeat(32)}`

/** An index DB in memory, as much of classic-level as the records use. */
function memoryIndex (): EnvironmentIndex {
  const map = new Map<string, string>()
  return {
    get: async (key: string) => map.get(key),
    put: async (key: string, value: string) => { map.set(key, value) },
    del: async (key: string) => { map.delete(key) },
    iterator: ({ gte, lt }: { gte: string, lt: string }) => (async function * () {
      for (const key of [...map.keys()].sort()) if (key >= gte && key < lt) yield [key, map.get(key)]
    })()
  } as unknown as EnvironmentIndex
}

/** Docker as far as planning asks it: which images it holds, where it keeps them. */
function fakeDocker (held: Set<string>): any {
  return {
    getImage: (ref: string) => ({
      inspect: async () => {
        if (held.has(ref)) return { Id: ref }
        throw Object.assign(new Error('no such image'), { statusCode: 404 })
      }
    }),
    info: async () => ({ DockerRootDir: tmpdir() })
  }
}

function cache (options: { held?: Set<string>, settings?: Partial<ProviderSettings> } = {}) {
  const pins = { add: async () => {}, remove: async () => {}, async * roots () {} }
  return environmentCache({
    docker: async () => fakeDocker(options.held ?? new Set()),
    blockstore: new MemoryBlockstore(),
    pins,
    guard: gcGuard(),
    records: environmentRecords(memoryIndex()),
    requireDag: async () => { throw new Error('not reached') },
    settings: () => ProviderSettings.parse({ enabled: true, ...options.settings }),
    home: tmpdir(),
    onChange: () => {},
    log: pino({ level: 'silent' })
  })
}

const spec = (bytes: number): JobSpec => ({
  version: 1,
  code: ROOT,
  inputs: [],
  environment: 'torch',
  image: { cid: ROOT, id: ID, bytes },
  command: ['true'],
  resources: { cpus: 1, memoryBytes: GiB, gpus: 0 },
  timeoutSeconds: 60,
  network: false
})

describe('a provider asked for an environment it may lack', () => {
  it('runs a held image by its id, and takes one it lacks only within its settings, budget and disk, saying the sizes', async () => {
    expect(await cache({ held: new Set([ID]) }).plan(spec(5 * GiB))).toEqual({ image: ID })
    expect(await cache().plan(spec(100 * MiB))).toEqual({ image: ID })
    expect(await cache({ settings: { acceptEnvironments: false } }).plan(spec(100 * MiB))).toEqual({
      refuse: 'environment "torch" (100 MiB, image abababababab) is not held here, and this provider takes no new environments (accept-environments off)'
    })
    expect(await cache({ settings: { maxEnvironmentsBytes: GiB } }).plan(spec(2 * GiB))).toEqual({
      refuse: 'environment "torch" (2 GiB, image abababababab) is more than the 1 GiB this provider gives environments (max-environments-disk)'
    })
    const huge = await cache({ settings: { maxEnvironmentsBytes: 60 * 1024 * GiB } }).plan(spec(50 * 1024 * GiB))
    expect(huge).toMatchObject({ refuse: expect.stringMatching(/needs about [0-9.]+ TiB free on .* \(its blocks, Docker's copy while loading, its layers\); [0-9.]+ [GT]iB are free/) })
  })

  it('is matched by clients when it takes images of that size, and settings say so', () => {
    const requirements = (environmentBytes?: number): Requirements => Requirements.parse({ environment: 'torch', ...(environmentBytes != null ? { environmentBytes } : {}) })
    const takes = sampleOffer('12D3KooWtakes', NOW, { acceptsEnvironmentBytes: GiB })
    const holds = sampleOffer('12D3KooWholds', NOW, { environments: ['busybox', 'torch'] })
    const neither = sampleOffer('12D3KooWneither', NOW)
    const brought = matchOffers([takes, holds, neither], requirements(512 * MiB), { now: NOW })
    expect(brought.ranked.map(r => r.peerId).sort()).toEqual(['12D3KooWholds', '12D3KooWtakes'])
    expect(brought.excluded).toEqual([{ peerId: '12D3KooWneither', reasons: ['environment "torch" not held'] }])
    const tooBig = matchOffers([takes], requirements(2 * GiB), { now: NOW })
    expect(tooBig.excluded).toEqual([{ peerId: '12D3KooWtakes', reasons: ['environment "torch" not held, and its 2 GiB image is more than the 1 GiB it takes'] }])
    // without an image to bring, the name must be held
    expect(matchOffers([takes], requirements(), { now: NOW }).excluded).toEqual([{ peerId: '12D3KooWtakes', reasons: ['environment "torch" not held'] }])

    const settings = ProviderSettings.parse({})
    expect(settings).toMatchObject({ acceptEnvironments: true, maxEnvironmentsBytes: 20 * GiB })
    expect(applySetting(settings, 'accept-environments', 'off').acceptEnvironments).toBe(false)
    expect(applySetting(settings, 'max-environments-disk', '5g').maxEnvironmentsBytes).toBe(5 * GiB)
    expect(() => applySetting(settings, 'accept-environments', 'maybe')).toThrow(/not on or off/)
  })
})
