import { afterEach, describe, expect, it } from 'vitest'
import { floeJson, resources, startDaemon, tempHome } from '../helpers/floe.js'
import { createNetns, netnsAvailable } from '../helpers/netns.js'

const r = resources()
let removeNetns: (() => void) | undefined
afterEach(async () => {
  await r.cleanup()
  removeNetns?.()
  removeNetns = undefined
})

describe('mDNS discovery', () => {
  it.skipIf(!netnsAvailable())('connects two daemons on one LAN by themselves (in a private network namespace)', async () => {
    const ns = createNetns(`floe-mdns-${process.pid}`)
    removeNetns = ns.remove
    // mDNS on (the default), so no --no-mdns: the namespace keeps the multicast inside.
    const flags = ['--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0']
    const a = r.daemon(await startDaemon(r.folder(await tempHome()), [], { flags, netns: ns.name }))
    const b = r.daemon(await startDaemon(r.folder(await tempHome()), [], { flags, netns: ns.name }))
    await expect.poll(async () => (await floeJson(['peers', '--home', a.home], { netns: ns.name })).map((p: any) => p.peerId), { timeout: 20_000 })
      .toEqual([b.endpoint.peerId])
    await expect.poll(async () => (await floeJson(['peers', '--home', b.home], { netns: ns.name })).map((p: any) => p.peerId), { timeout: 20_000 })
      .toEqual([a.endpoint.peerId])
  })
})
