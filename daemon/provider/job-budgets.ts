import type { ProviderSettings } from '../../protocol/market/settings.js'

/**
 * A job's budgets, from the provider's settings: its disk holds its code, /tmp and /output
 * (so it is `scratch + max-output` bytes and `max-files` inodes); code is written within
 * `scratch`, and what leaves the job (its output, a workspace's home) within `max-output`.
 */
export function jobBudgets (settings: Pick<ProviderSettings, 'scratchBytes' | 'maxOutputBytes' | 'maxJobFiles'>) {
  return {
    disk: { bytes: settings.scratchBytes + settings.maxOutputBytes, inodes: settings.maxJobFiles },
    code: { maxBytes: settings.scratchBytes, maxEntries: settings.maxJobFiles },
    output: { maxBytes: settings.maxOutputBytes, maxEntries: settings.maxJobFiles }
  }
}
