import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { createNatLab, natLabAvailable, type NatLab } from '../helpers/nat-lab.js'

/**
 * A small internet on one machine (test/helpers/nat-lab.ts): a public host running a floe relay
 * and bootstrap node, and homes behind NAT routers — 'eim' maps each local port to one public
 * port (hole punching works), 'symmetric' maps each connection to a new random port (it cannot).
 * Every daemon runs in its namespace; only the relay's address is given to the others.
 */
const r = resources()
let lab: NatLab | undefined
afterEach(async () => {
  await r.cleanup()
  lab?.remove()
  lab = undefined
})
afterAll(async () => {
  expect(await removeLeftContainers(r.started), 'containers left behind').toEqual([])
})

const RELAY_PORT = 4001
const flags = (port: number): string[] => ['--api', '127.0.0.1:0', '--listen', `/ip4/0.0.0.0/tcp/${port}`, '--no-mdns']

async function daemonIn (ns: string, extra: string[], config?: object, port = 4460): Promise<RunningDaemon> {
  const home = r.folder(await tempHome())
  if (config != null) await writeFile(join(home, 'config.json'), JSON.stringify(config))
  const d = r.daemon(await startDaemon(home, extra, { flags: flags(port), netns: ns }))
  r.started.add(d.endpoint.peerId)
  return d
}

/** `--home` goes before a job's `-- COMMAND` */
const withHome = (d: RunningDaemon, args: string[]): string[] => {
  const end = args.indexOf('--')
  return end < 0 ? [...args, '--home', d.home] : [...args.slice(0, end), '--home', d.home, ...args.slice(end)]
}
const cli = async (d: RunningDaemon, ns: string, args: string[], timeoutMs = 90_000) => await floe(withHome(d, args), { netns: ns, timeoutMs })
const json = async (d: RunningDaemon, ns: string, args: string[]): Promise<any> => await floeJson(withHome(d, args), { netns: ns })

/** the relay in the public namespace, and its address for --bootstrap */
async function startRelay (l: NatLab, relayConfig: object = {}): Promise<{ relay: RunningDaemon, addr: string }> {
  const relay = await daemonIn(l.publicNs, ['--relay'], { relay: relayConfig }, RELAY_PORT)
  return { relay, addr: `/ip4/${l.publicIp}/tcp/${RELAY_PORT}/p2p/${relay.endpoint.peerId}` }
}

async function waitProvider (client: RunningDaemon, ns: string, provider: string): Promise<void> {
  await expect.poll(async () => (await json(client, ns, ['providers'])).providers.map((p: any) => p.offer.peerId), { timeout: 45_000, interval: 500 }).toContain(provider)
}

async function viaTo (d: RunningDaemon, ns: string, peer: string): Promise<string | undefined> {
  return (await json(d, ns, ['peers'])).find((p: any) => p.peerId === peer)?.via
}

describe.skipIf(!natLabAvailable())('peers behind NATs', () => {
  it('client behind one NAT runs a job with a dataset on a provider behind another: relayed first, then direct by hole punching; the job outlives the relay', { timeout: 240_000 }, async () => {
    lab = createNatLab({ homes: [{ name: 'a', nat: 'eim' }, { name: 'b', nat: 'eim' }] })
    const a = lab.homes.a!.ns
    const b = lab.homes.b!.ns
    const { relay, addr } = await startRelay(lab)
    const provider = await daemonIn(b, ['--provider', '--bootstrap', addr])
    const client = await daemonIn(a, ['--bootstrap', addr])

    // the client reaches the provider through the relay as soon as the provider has a slot there,
    // before either knows its own public mapping: the connection is punched once they do
    const relayedAddr = `/ip4/6.0.0.1/tcp/${RELAY_PORT}/p2p/${relay.endpoint.peerId}/p2p-circuit/p2p/${provider.endpoint.peerId}`
    await expect.poll(async () => (await json(provider, b, ['id'])).relayedAddresses, { timeout: 30_000, interval: 250 }).toContain(relayedAddr)
    const connectedAt = Date.now()
    expect((await cli(client, a, ['connect', relayedAddr])).code).toBe(0)
    await expect.poll(async () => await viaTo(client, a, provider.endpoint.peerId), { timeout: 60_000, interval: 500 }).toBe('direct')
    console.log(`[nat] eim↔eim: direct ${((Date.now() - connectedAt) / 1000).toFixed(1)} s after connecting through the relay`)

    // each home learns it is private, and the provider holds a relay reservation its offer carries
    await expect.poll(async () => (await json(provider, b, ['id'])).reachability.status, { timeout: 30_000 }).toBe('private')
    await expect.poll(async () => (await json(client, a, ['id'])).reachability.status, { timeout: 30_000 }).toBe('private')
    await expect.poll(async () => (await json(relay, lab!.publicNs, ['id'])).reachability.status, { timeout: 30_000 }).toBe('public')
    const providerId = await json(provider, b, ['id'])
    expect(providerId.reachability.observedAddrs.some((x: string) => /^\/ip4\/6\.0\.0\.12\/tcp\/\d+$/.test(x)), providerId.reachability.observedAddrs.join()).toBe(true)
    await waitProvider(client, a, provider.endpoint.peerId)
    const offer = (await json(client, a, ['providers'])).providers.find((p: any) => p.offer.peerId === provider.endpoint.peerId).offer
    expect(offer.addrs.some((x: string) => x.includes('/p2p-circuit'))).toBe(true)

    // a 4 MiB dataset, mounted into a job that streams its log and writes an output
    const work = r.folder(await tempHome('floe-nat-'))
    await mkdir(join(work, 'data'))
    const bytes = randomBytes(4 * 1024 * 1024)
    await writeFile(join(work, 'data', 'blob.bin'), bytes)
    await writeFile(join(work, 'train.sh'), 'echo training\n')
    expect((await cli(client, a, ['data', 'upload', join(work, 'data'), '--name', 'blob'])).code).toBe(0)
    const relayBefore = lab.publicHostBytes()
    const run = await cli(client, a, ['run', '--path', work, '--json', '--follow', '--provider', provider.endpoint.peerId, '--data', 'blob:/data', '--',
      'sh', '-c', 'echo started; wc -c /data/blob.bin; cat /data/blob.bin > /output/copy.bin'])
    const job = JSON.parse(run.stdout)
    const logs = await cli(client, a, ['logs', job.ref])
    expect(run.code, run.stderr + logs.stdout + logs.stderr).toBe(0)
    expect(job).toMatchObject({ state: 'success', provider: provider.endpoint.peerId })
    expect(logs.stdout).toContain('started')
    expect(logs.stdout).toContain(`${bytes.length} /data/blob.bin`)
    const out = join(work, 'out')
    expect((await cli(client, a, ['output', job.ref, out])).code).toBe(0)
    expect((await readFile(join(out, 'copy.bin'))).equals(bytes)).toBe(true)
    // the dataset (4 MiB) and the output (4 MiB) went direct: what crossed the relay is control traffic
    const relayed = lab.publicHostBytes() - relayBefore
    console.log(`[nat] eim↔eim: connection ${await viaTo(client, a, provider.endpoint.peerId)}, ${relayed} bytes through the relay's host for 8 MiB of content`)
    expect(await viaTo(client, a, provider.endpoint.peerId)).toBe('direct')
    expect(relayed).toBeLessThan(1024 * 1024)

    // a workspace terminal on the provider behind the other NAT
    const ws = await json(client, a, ['workspace', 'start', 'dev', '--path', work, '--provider', provider.endpoint.peerId])
    await expect.poll(async () => (await json(client, a, ['status', ws.ref])).state, { timeout: 60_000 }).toBe('running')
    const shell = await cli(client, a, ['shell', ws.ref, '--', 'sh', '-c', 'echo hello from behind two NATs'])
    expect(shell.stdout).toContain('hello from behind two NATs')
    await json(client, a, ['workspace', 'stop', ws.ref])

    // the relay goes away mid-job: the job goes on over the direct connection
    const long = JSON.parse((await cli(client, a, ['run', '--path', work, '--json', '--provider', provider.endpoint.peerId, '--', 'sh', '-c', 'sleep 4; echo outlived the relay'])).stdout)
    await expect.poll(async () => (await json(client, a, ['status', long.ref])).state, { timeout: 30_000 }).toBe('running')
    await relay.stop('SIGKILL')
    await expect.poll(async () => (await json(client, a, ['status', long.ref])).state, { timeout: 60_000 }).toBe('success')
    expect((await cli(client, a, ['logs', long.ref])).stdout).toContain('outlived the relay')
  })

  it('behind a symmetric NAT the provider stays relayed: content is refused with the cause named, then crosses a relay whose owner allows it; a node restarted behind its NAT is reachable again within seconds', { timeout: 300_000 }, async () => {
    lab = createNatLab({ homes: [{ name: 'a', nat: 'eim' }, { name: 'c', nat: 'symmetric' }] })
    const a = lab.homes.a!.ns
    const c = lab.homes.c!.ns
    let { relay, addr } = await startRelay(lab)
    let provider = await daemonIn(c, ['--provider', '--bootstrap', addr])
    const client = await daemonIn(a, ['--bootstrap', addr])
    await waitProvider(client, a, provider.endpoint.peerId)

    // a job's code is content too: through a limited relay the job fails, saying why
    const work = r.folder(await tempHome('floe-nat-'))
    await writeFile(join(work, 'train.sh'), 'echo training\n')
    await mkdir(join(work, 'data'))
    const bytes = randomBytes(2 * 1024 * 1024)
    await writeFile(join(work, 'data', 'blob.bin'), bytes)
    expect((await cli(client, a, ['data', 'upload', join(work, 'data'), '--name', 'blob'])).code).toBe(0)
    const refused = await cli(client, a, ['run', '--path', work, '--json', '--follow', '--provider', provider.endpoint.peerId, '--data', 'blob:/data', '--', 'wc', '-c', '/data/blob.bin'])
    const failed = JSON.parse(refused.stdout)
    expect(failed.state).toBe('failed')
    expect(failed.reason).toMatch(/only through a relay that limits what it carries, and no direct connection came/)
    expect(await viaTo(client, a, provider.endpoint.peerId)).toBe('relayed')

    // the relay's owner allows unlimited relaying: the same job runs, its data through the relay
    const relayHome = relay.home
    await relay.stop('SIGTERM')
    await writeFile(join(relayHome, 'config.json'), JSON.stringify({ relay: { unlimited: true } }))
    relay = r.daemon(await startDaemon(relayHome, ['--relay'], { flags: flags(RELAY_PORT), netns: lab.publicNs }))
    await expect.poll(async () => (await json(provider, c, ['id'])).relayedAddresses.length, { timeout: 60_000, interval: 500 }).toBeGreaterThan(0)
    await waitProvider(client, a, provider.endpoint.peerId)
    const relayBefore = lab.publicHostBytes()
    const run = await cli(client, a, ['run', '--path', work, '--json', '--follow', '--provider', provider.endpoint.peerId, '--data', 'blob:/data', '--', 'wc', '-c', '/data/blob.bin'])
    expect(run.code, run.stderr + run.stdout).toBe(0)
    const job = JSON.parse(run.stdout)
    expect(job).toMatchObject({ state: 'success' })
    expect((await cli(client, a, ['logs', job.ref])).stdout).toContain(`${bytes.length} /data/blob.bin`)
    expect(await viaTo(client, a, provider.endpoint.peerId)).toBe('relayed')
    const relayed = lab.publicHostBytes() - relayBefore
    console.log(`[nat] eim↔symmetric over an unlimited relay: ${relayed} bytes through the relay's host for a ${bytes.length}-byte dataset`)
    expect(relayed).toBeGreaterThan(bytes.length)

    // restart the NATed provider: it takes a reservation again and the client reaches it
    const home = provider.home
    await provider.stop('SIGTERM')
    const restartedAt = Date.now()
    provider = r.daemon(await startDaemon(home, ['--provider', '--bootstrap', addr], { flags: flags(4460), netns: c }))
    await expect.poll(async () => (await json(provider, c, ['id'])).relayedAddresses.length, { timeout: 30_000, interval: 250 }).toBeGreaterThan(0)
    await waitProvider(client, a, provider.endpoint.peerId)
    const again = await cli(client, a, ['run', '--path', work, '--json', '--follow', '--provider', provider.endpoint.peerId, '--', 'echo', 'back again'])
    expect(again.code, again.stderr + again.stdout).toBe(0)
    console.log(`[nat] restarted provider behind a symmetric NAT ran a job ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after its restart`)
  })

  it('a relay at its reservation limit refuses the next peer, which says it has no relayed address', { timeout: 120_000 }, async () => {
    lab = createNatLab({ homes: [{ name: 'a', nat: 'eim' }, { name: 'b', nat: 'eim' }] })
    const { relay, addr } = await startRelay(lab, { maxReservations: 1 })
    const first = await daemonIn(lab.homes.a!.ns, ['--bootstrap', addr])
    await expect.poll(async () => (await json(first, lab!.homes.a!.ns, ['id'])).relayedAddresses.length, { timeout: 30_000 }).toBeGreaterThan(0)
    const second = await daemonIn(lab.homes.b!.ns, ['--bootstrap', addr])
    await expect.poll(async () => (await json(second, lab!.homes.b!.ns, ['peers'])).map((p: any) => p.peerId), { timeout: 30_000 }).toContain(relay.endpoint.peerId)
    await new Promise(resolve => setTimeout(resolve, 3_000))
    expect((await json(second, lab.homes.b!.ns, ['id'])).relayedAddresses).toEqual([])
    expect((await json(relay, lab.publicNs, ['id'])).relay).toEqual({ enabled: true, reservations: 1, unlimited: false })
  })
})
