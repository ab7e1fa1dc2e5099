import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, loadConfig, parseApiAddress } from '../../../../daemon/config/index.js'

describe('loadConfig', () => {
  let dir: string
  let path: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floe-config-'))
    path = join(dir, 'config.json')
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes the documented defaults on first use', async () => {
    expect(await loadConfig(path)).toEqual(DEFAULT_CONFIG)
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      api: '127.0.0.1:7460', listen: ['/ip4/0.0.0.0/tcp/4460'], bootstrap: [], mdns: true, dht: false, relayClient: true, holePunch: true, upnp: false, logLevel: 'info',
      relay: { enabled: false, maxReservations: 64, reservationTtlS: 3600, maxDurationS: 3600, maxBytes: 256 * 1024 ** 2, unlimited: false },
      provider: { enabled: false, cpus: null, memoryBytes: null, gpus: 'all', prices: { perCpuHour: 0.05, perGiBHour: 0.01, perGpuHour: { '*': 1 } }, maxConcurrentJobs: 2, maxJobSeconds: 86_400, network: false, allow: [], deny: [], maxOutputBytes: 10 * 1024 ** 3, scratchBytes: 2 * 1024 ** 3, maxJobFiles: 500_000, runtime: 'auto', maxInputCacheBytes: 20 * 1024 ** 3, acceptEnvironments: true, maxEnvironmentsBytes: 20 * 1024 ** 3, keepOutputSeconds: 86_400, meteringSeconds: 10, voucherGraceSeconds: 30 },
      billing: { budget: null },
      notify: { webhook: null, webhookSecret: null, desktop: 'auto' },
      pip: { extraIndexUrls: [], trustedHosts: [] }
    })
  })

  it('fills missing keys with defaults, also inside the provider section, and keeps given ones', async () => {
    await writeFile(path, JSON.stringify({ provider: { enabled: true, prices: { perCpuHour: 0.2 } } }))
    const config = await loadConfig(path)
    expect(config.provider).toMatchObject({ enabled: true, maxConcurrentJobs: 2, prices: { perCpuHour: 0.2, perGiBHour: 0.01, perGpuHour: { '*': 1 } } })
  })

  it('fills missing top-level keys with defaults and keeps given ones', async () => {
    await writeFile(path, JSON.stringify({ mdns: false, bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }))
    expect(await loadConfig(path)).toEqual({ ...DEFAULT_CONFIG, mdns: false, bootstrap: ['/ip4/127.0.0.1/tcp/4001'] })
  })

  it('refuses invalid JSON, unknown keys and bad values, naming the file and the key, and leaves the file alone', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"api": ', /is not valid JSON/],
      ['{"mdsn": false}', /Unrecognized key.*"mdsn"/],
      ['{"listen": ["not-a-multiaddr"]}', /listen\.0: not a valid multiaddr/],
      ['{"api": "0.0.0.0:7460"}', /api: expected a loopback HOST:PORT/],
      ['{"logLevel": "loud"}', /logLevel: /],
      ['{"pip": {"indexUrl": "not a url"}}', /pip\.indexUrl: /]
    ]
    for (const [text, message] of cases) {
      await writeFile(path, text)
      await expect(loadConfig(path), text).rejects.toThrow(message)
      await expect(loadConfig(path), text).rejects.toMatchObject({ name: 'ConfigError' })
      expect(await readFile(path, 'utf8')).toBe(text)
    }
  })
})

describe('parseApiAddress', () => {
  it('accepts loopback HOST:PORT', () => {
    expect(parseApiAddress('127.0.0.1:7460')).toEqual({ host: '127.0.0.1', port: 7460 })
    expect(parseApiAddress('localhost:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseApiAddress('[::1]:80')).toEqual({ host: '::1', port: 80 })
  })

  it('refuses other hosts and malformed input', () => {
    expect(() => parseApiAddress('0.0.0.0:7460')).toThrow(/loopback only/)
    expect(() => parseApiAddress('192.168.1.2:7460')).toThrow(/loopback only/)
    expect(() => parseApiAddress('127.0.0.1')).toThrow(/expected HOST:PORT/)
    expect(() => parseApiAddress('127.0.0.1:70000')).toThrow(/above 65535/)
  })
})
