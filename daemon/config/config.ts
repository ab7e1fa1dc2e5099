import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { parseApiAddress } from './api-address.js'
import { ConfigError } from './errors.js'
import { ProviderSettings } from '../../protocol/market/settings.js'
import { BudgetPeriod } from '../../protocol/billing/credits.js'

export { ProviderSettings }

const Multiaddr = z.string().refine(text => {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}, { message: 'not a valid multiaddr' })

const ApiAddressString = z.string().refine(text => {
  try {
    parseApiAddress(text)
    return true
  } catch {
    return false
  }
}, { message: 'expected a loopback HOST:PORT, e.g. 127.0.0.1:7460' })

/** Limits a relay puts on what it carries for others (circuit relay v2 reservations). */
export const RelaySettings = z.object({
  enabled: z.boolean().default(false),
  /** peers holding a reservation at once; past it, a reservation is refused (RESOURCE_LIMIT_EXCEEDED) */
  maxReservations: z.number().int().min(1).max(4096).default(64),
  /** how long a reservation lasts before the peer must renew it */
  reservationTtlS: z.number().int().min(10).max(86_400).default(3600),
  /** each relayed connection ends after this long … */
  maxDurationS: z.number().int().min(10).max(86_400).default(3600),
  /** … or after this many bytes either way: enough for control traffic (logs, terminals), not for datasets */
  maxBytes: z.number().int().min(65_536).default(256 * 1024 * 1024),
  /** no limit on relayed connections: content (datasets, outputs, images) may then cross this relay too */
  unlimited: z.boolean().default(false)
}).strict()
export type RelaySettings = z.infer<typeof RelaySettings>

/**
 * `config.json` in the daemon's home. Written with these defaults on first start; command
 * line flags override it for one run without changing it. Unknown keys are refused so a
 * typo is not silently ignored.
 */
export const Config = z.object({
  /** HTTP API address, loopback only */
  api: ApiAddressString.default('127.0.0.1:7460'),
  /** libp2p listen addresses */
  listen: z.array(Multiaddr).default(['/ip4/0.0.0.0/tcp/4460']),
  /** peers dialled at start and kept connected */
  bootstrap: z.array(Multiaddr).default([]),
  /** find peers on the local network by multicast DNS */
  mdns: z.boolean().default(true),
  /** join floe's Kademlia DHT: providers announce themselves there, every node looks them up */
  dht: z.boolean().default(false),
  /** serve as a circuit relay v2 for other peers (`floe daemon --relay`): only worth it on a publicly reachable node */
  relay: RelaySettings.prefault({}),
  /** reserve a slot on a relay this node knows of, so peers reach it through the relay when it is behind a NAT */
  relayClient: z.boolean().default(true),
  /** upgrade relayed connections to direct ones (DCUtR; outbound TCP to public addresses leaves from one fixed port so the NAT maps it once) */
  holePunch: z.boolean().default(true),
  /** ask the home router for a port mapping over UPnP */
  upnp: z.boolean().default(false),
  /** the owner name of projects this node creates (`floe init mnist` → `<owner>/mnist`); the OS user name when unset */
  owner: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-" only').optional(),
  /** daemon log level */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  provider: ProviderSettings.prefault({}),
  /**
   * Where pip finds packages when a job's requirements.txt is built into a derived environment
   * on this node (pip's PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST; pip's own
   * defaults when unset)
   */
  pip: z.object({
    indexUrl: z.string().url().max(2048).optional(),
    extraIndexUrls: z.array(z.string().url().max(2048)).max(16).default([]),
    trustedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host name or address, optionally :PORT').max(256)).max(16).default([])
  }).strict().prefault({}),
  /** telling the user when a job they submitted ends (daemon/notify/notifier.ts) */
  notify: z.object({
    /** POSTed a JSON `job.finished` event; http or https only */
    webhook: z.string().max(2048).url().refine(text => /^https?:\/\//i.test(text), { message: 'only http:// and https:// webhook URLs are allowed' }).nullable().default(null),
    /** signs each body: X-Floe-Signature: sha256=HMAC-SHA256(secret, body) in hex */
    webhookSecret: z.string().min(16, 'at least 16 characters').max(256).nullable().default(null),
    /** a desktop notification (notify-send, osascript): auto shows one where a desktop session exists */
    desktop: z.union([z.boolean(), z.literal('auto')]).default('auto')
  }).strict().prefault({}),
  /** this node's own spending limit as a client (daemon/billing/budgets.ts): credits per day, month or in total */
  billing: z.object({
    budget: z.object({
      credits: z.number().nonnegative().max(1e9),
      per: BudgetPeriod.default('month')
    }).strict().nullable().default(null)
  }).strict().prefault({})
}).strict()
export type Config = z.infer<typeof Config>

export const DEFAULT_CONFIG: Config = Config.parse({})

/** Writes the config atomically (the daemon does, when provider settings change at run time). */
export async function saveConfig (path: string, config: Config): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(Config.parse(config), null, 2) + '\n', { mode: 0o644 })
}

/** Reads the config, creating it with the defaults when the home has none. */
export async function loadConfig (path: string): Promise<Config> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw new ConfigError(`cannot read ${path}: ${err?.message ?? err}`)
    await writeFileAtomic(path, JSON.stringify(DEFAULT_CONFIG, null, 2) + '\n', { mode: 0o644 })
    return DEFAULT_CONFIG
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(`${path} is not valid JSON (${err?.message ?? err}); fix it or delete it to get the defaults back`)
  }
  const parsed = Config.safeParse(json)
  if (!parsed.success) {
    const issues = parsed.error.issues.map(issue => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')
    throw new ConfigError(`${path} is invalid: ${issues}`)
  }
  return parsed.data
}
