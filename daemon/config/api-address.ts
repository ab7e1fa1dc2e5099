import { ConfigError } from './errors.js'

export interface ApiAddress {
  host: string
  port: number
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1'])

/**
 * Parses `HOST:PORT` (`[::1]:PORT` for IPv6). The API serves the local user only, so a
 * host that is not loopback is refused rather than quietly exposed.
 */
export function parseApiAddress (text: string): ApiAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim())
  if (match == null) throw new ConfigError(`invalid API address "${text}": expected HOST:PORT, e.g. 127.0.0.1:7460`)
  const host = match[1] ?? match[2] ?? ''
  const port = Number(match[3])
  if (port > 65535) throw new ConfigError(`invalid API address "${text}": port ${port} is above 65535`)
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new ConfigError(`invalid API address "${text}": the API listens on loopback only (127.0.0.1, localhost or [::1])`)
  }
  return { host: host === 'localhost' ? '127.0.0.1' : host, port }
}
