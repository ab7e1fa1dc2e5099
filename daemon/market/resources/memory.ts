import { readFile } from 'node:fs/promises'
import { freemem, totalmem } from 'node:os'

export const MEMINFO_PATH = '/proc/meminfo'

export interface MemoryInfo {
  totalBytes: number
  /** what new work can take without swapping: MemAvailable where the kernel gives it, else free memory */
  availableBytes: number
  /** where availableBytes came from */
  source: 'meminfo' | 'os'
}

/**
 * Total and available memory. Linux's MemAvailable counts reclaimable page cache, which
 * os.freemem() (MemFree) leaves out, so on a busy machine it is the honest figure to share.
 */
export async function detectMemory (options: { meminfoPath?: string } = {}): Promise<MemoryInfo> {
  const totalBytes = totalmem()
  const available = await readMemAvailable(options.meminfoPath ?? MEMINFO_PATH)
  if (available != null) return { totalBytes, availableBytes: Math.min(available, totalBytes), source: 'meminfo' }
  return { totalBytes, availableBytes: freemem(), source: 'os' }
}

/** MemAvailable in bytes from a /proc/meminfo text; null when absent or unreadable (older kernels, other systems). */
export function parseMemAvailable (text: string): number | null {
  const match = /^MemAvailable:\s+(\d+)\s*kB\s*$/m.exec(text)
  if (match?.[1] == null) return null
  const bytes = Number(match[1]) * 1024
  return Number.isSafeInteger(bytes) ? bytes : null
}

async function readMemAvailable (path: string): Promise<number | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    // No procfs (macOS, a sandbox): os.freemem() is the figure left.
    if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EPERM') return null
    throw err
  }
  return parseMemAvailable(text)
}
