import { afterEach, describe, expect, it } from 'vitest'
import { addr, floe, floeJson, resources } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })

describe('the peer store on disk', () => {
  it('remembers a peer given to floe connect across a restart, redials it, and lists why it is kept', async () => {
    const b = await r.start()
    let a = await r.start()
    const connected = await floeJson(['connect', await addr(b), '--home', a.home])
    expect(connected.peerId).toBe(b.endpoint.peerId)

    const known = await floeJson(['peers', '--known', '--home', a.home])
    expect(known.find((p: any) => p.peerId === b.endpoint.peerId)).toMatchObject({ connected: true, kept: ['connect'], floe: true, lastSeen: expect.any(String) })

    // a restart: nobody dials anybody by hand, yet A is back with B within a keeper round
    const home = a.home
    await a.stop('SIGTERM')
    a = await r.startAt(home)
    await expect.poll(async () => (await floeJson(['peers', '--home', a.home])).map((p: any) => p.peerId), { timeout: 20_000, interval: 250 }).toContain(b.endpoint.peerId)
    const after = await floeJson(['peers', '--known', '--home', a.home])
    expect(after.find((p: any) => p.peerId === b.endpoint.peerId)).toMatchObject({ connected: true, kept: ['connect'] })
    expect(after.find((p: any) => p.peerId === b.endpoint.peerId).addrs).toContain((await addr(b)).replace(`/p2p/${b.endpoint.peerId}`, ''))

    // the table names the same
    const table = await floe(['peers', '--known', '--home', a.home])
    expect(table.stdout).toMatch(new RegExp(`${b.endpoint.peerId}\\s+yes\\s+connect`))
  })

  it('says whether the node is reachable, and a bad address for floe connect is refused with the reason', async () => {
    const a = await r.start()
    const id = await floeJson(['id', '--home', a.home])
    // on loopback no public peer can check it
    expect(id.reachability).toMatchObject({ status: 'unknown', checkedBy: [] })
    expect(id.relay).toEqual({ enabled: false, reservations: 0, unlimited: false })
    const text = await floe(['id', '--home', a.home])
    expect(text.stdout).toMatch(/reachable\s+unknown \(no public peer has checked yet\)/)
    const bad = await floe(['connect', '/ip4/127.0.0.1/tcp/notaport', '--home', a.home])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/is not a valid multiaddr/)
  })
})
