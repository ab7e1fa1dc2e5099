import { describe, expect, it } from 'vitest'
import type { ImageInfo } from 'dockerode'
import { handInstalledTag, installedEnvironments } from '../../../../daemon/environments/installed.js'

const image = (id: string, name: string, tags: string[]): ImageInfo => ({ Id: id, RepoTags: tags, Labels: { 'org.floe.environment': name }, Size: 100 } as unknown as ImageInfo)

describe('installed environments', () => {
  it('counts a labelled image as its name only when tagged by hand as that name, outside floe\'s repositories', () => {
    expect(handInstalledTag('busybox', ['floe/busybox:latest'])).toBe('floe/busybox:latest')
    expect(handInstalledTag('busybox', ['busybox:1.36', 'floe/busybox:latest'])).toBe('busybox:1.36')
    // a fetched image, another daemon's published one, an image that inherited the label
    expect(handInstalledTag('busybox', [`floe-fetched:${'a'.repeat(64)}`])).toBeNull()
    expect(handInstalledTag('busybox', ['floe-env/busybox:0123456789ab'])).toBeNull()
    // the engine's recipe cache is floe's too: a cached recipe image is not an environment installed by hand
    expect(handInstalledTag('python-3.11', ['floe-recipe/python-3.11:0123456789ab'])).toBeNull()
    expect(handInstalledTag('floe-fetched', [`floe-fetched:${'a'.repeat(64)}`])).toBeNull()
    expect(handInstalledTag('busybox', ['tools/mytool:latest', '<none>:<none>'])).toBeNull()
  })

  it('maps a name to the record\'s image first, then to one installed by hand, never to a fetched one', async () => {
    const own = `sha256:${'1'.repeat(64)}`
    const setUp = `sha256:${'2'.repeat(64)}`
    const hostile = `sha256:${'f'.repeat(64)}`
    const docker = {
      listImages: async () => [
        image(hostile, 'busybox', [`floe-fetched:${'f'.repeat(64)}`, 'floe-env/busybox:ffffffffffff']),
        image(setUp, 'busybox', ['floe/busybox:latest']),
        image(own, 'python', ['floe-env/python:111111111111']),
        image(`sha256:${'3'.repeat(64)}`, 'gone', ['floe-env/gone:333333333333'])
      ]
    }
    const records = { all: async () => [{ name: 'python', imageId: own, origin: 'built' as const }, { name: 'absent', imageId: `sha256:${'4'.repeat(64)}`, origin: 'published' as const }] }
    const installed = await installedEnvironments(docker, records as any)
    expect(installed.map(e => [e.name, e.id, e.origin])).toEqual([['busybox', setUp, 'local'], ['python', own, 'built']])
  })
})
