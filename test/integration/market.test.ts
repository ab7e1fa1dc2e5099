import { afterEach, describe, expect, it } from 'vitest'
import { floe, floeJson, addr, resources, startDaemon, tempHome } from '../helpers/floe.js'

const r = resources()
afterEach(async () => { await r.cleanup() })

describe('the market between three daemons', () => {
  it('lists both providers within seconds, ranks them by the cost of the shape, explains exclusions, and drops a stopped provider', async () => {
    const cheap = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const dear = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
    const client = r.daemon(await startDaemon(r.folder(await tempHome())))
    // cheap CPUs but dear memory, shares 1 core; dear CPUs, cheap memory, shares 2
    for (const [key, value] of [['price.cpu', '0.01'], ['price.memory', '0.5'], ['cpus', '1']] as const) await floeJson(['provider', 'set', key, value, '--home', cheap.home])
    for (const [key, value] of [['price.cpu', '0.2'], ['price.memory', '0.01'], ['cpus', '2'], ['max-duration', '1h']] as const) await floeJson(['provider', 'set', key, value, '--home', dear.home])
    await floeJson(['connect', await addr(cheap), '--home', client.home])
    await floeJson(['connect', await addr(dear), '--home', client.home])

    const started = Date.now()
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.map((p: any) => p.offer.peerId).sort(), { timeout: 10_000 })
      .toEqual([cheap.endpoint.peerId, dear.endpoint.peerId].sort())
    expect(Date.now() - started).toBeLessThan(10_000)
    const listed = await floeJson(['providers', '--home', client.home])
    const cheapOffer = listed.providers.find((p: any) => p.offer.peerId === cheap.endpoint.peerId).offer
    // other test files may hold more labelled images in the engine all tests share
    expect(cheapOffer).toMatchObject({ cpu: { shared: 1, free: 1 }, prices: { perCpuHour: 0.01, perGiBHour: 0.5 }, environments: expect.arrayContaining(['busybox']) })
    expect(listed.providers.every((p: any) => typeof p.latencyMs === 'number')).toBe(true)

    const rank = async (...flags: string[]) => await floeJson(['run', '--dry-run', ...flags, '--home', client.home])
    // CPU-heavy, little memory: the cheap-CPU provider wins
    const cpuJob = await rank('--cpu', '1', '--memory', '256m')
    expect(cpuJob.ranked.map((x: any) => x.peerId)).toEqual([cheap.endpoint.peerId, dear.endpoint.peerId])
    expect(cpuJob.ranked[0].costPerHour).toBeCloseTo(0.01 + 0.25 * 0.5, 6)
    // memory-heavy: the cheap-memory provider wins
    const memoryJob = await rank('--cpu', '1', '--memory', '8g')
    expect(memoryJob.ranked.map((x: any) => x.peerId)).toEqual([dear.endpoint.peerId, cheap.endpoint.peerId])
    // two cores and a long time limit: only one fits each, for a stated reason
    const twoCores = await rank('--cpu', '2', '--memory', '1g')
    expect(twoCores.ranked.map((x: any) => x.peerId)).toEqual([dear.endpoint.peerId])
    expect(twoCores.excluded).toEqual([{ peerId: cheap.endpoint.peerId, reasons: [expect.stringMatching(/CPU/)] }])
    const long = await rank('--timeout', '3h')
    expect(long.ranked.map((x: any) => x.peerId)).toEqual([cheap.endpoint.peerId])
    expect(long.excluded[0].reasons.join(' ')).toMatch(/1h/)
    const gpu = await rank('--gpu', '1')
    expect(gpu.ranked).toEqual([])
    expect(gpu.excluded).toHaveLength(2)

    const table = await floe(['run', '--dry-run', '--cpu', '2', '--home', client.home])
    expect(table.stdout).toContain('excluded:')
    expect(table.stdout).toContain(cheap.endpoint.peerId)

    // a provider that stops leaves the book
    await dear.stop('SIGTERM')
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.map((p: any) => p.offer.peerId), { timeout: 10_000 })
      .toEqual([cheap.endpoint.peerId])
  })

  it('withdraws an offer when provider mode is turned off, and keeps the setting in config.json', async () => {
    const provider = r.daemon(await startDaemon(r.folder(await tempHome())))
    const client = r.daemon(await startDaemon(r.folder(await tempHome())))
    await floeJson(['connect', await addr(provider), '--home', client.home])
    expect((await floeJson(['provider', 'show', '--home', provider.home])).offer).toBeNull()
    const on = await floeJson(['provider', 'on', '--home', provider.home])
    expect(on.settings.enabled).toBe(true)
    expect(on.offer.peerId).toBe(provider.endpoint.peerId)
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(1)

    await floeJson(['provider', 'off', '--home', provider.home])
    await expect.poll(async () => (await floeJson(['providers', '--home', client.home])).providers.length, { timeout: 10_000 }).toBe(0)
    const { readFileSync } = await import('node:fs')
    expect(JSON.parse(readFileSync(`${provider.home}/config.json`, 'utf8')).provider.enabled).toBe(false)

    const bad = await floe(['provider', 'set', 'price.cpu', '-1', '--home', provider.home])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('floe provider set: "-1" is not a price: use a number of credits per hour, 0 or more\n')
    const unknown = await floe(['provider', 'set', 'colour', 'blue', '--home', provider.home])
    expect(unknown.stderr).toMatch(/^floe provider set: unknown setting "colour"; the settings are: cpus, memory, gpus/)
  })
})
