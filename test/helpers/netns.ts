import { execFileSync } from 'node:child_process'

/**
 * A private network namespace with only a loopback interface that carries multicast, so
 * tests can exercise mDNS without sending a packet outside this machine's sandbox.
 * Needs root and iproute2 (as CI has).
 */
export function netnsAvailable (): boolean {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function createNetns (name: string): { name: string, remove(): void } {
  const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }) }
  ip('netns', 'add', name)
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up')
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'multicast', 'on')
  ip('netns', 'exec', name, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'lo')
  return { name, remove: () => { ip('netns', 'del', name) } }
}
