import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNatLab, natLabAvailable, type NatLab } from '../helpers/nat-lab.js'

// Small TCP programs run with node inside the lab's namespaces (no floe daemon): they print
// one JSON line per event on stdout, so the test reads what each end saw.

/** Public server: per connection, prints where it came from and sends `bytes` bytes + "\n". */
const SERVER = `
const net = require('node:net')
const [port, bytes] = process.argv.slice(1).map(Number)
net.createServer(socket => {
  console.log(JSON.stringify({ from: socket.remoteAddress, port: socket.remotePort }))
  socket.on('error', () => {})
  socket.end('x'.repeat(bytes) + '\\n')
}).listen(port, '0.0.0.0', () => console.log(JSON.stringify({ listening: port })))
`

/** Client: connects (from localPort when not 0), reads one line; gives up after timeoutMs. */
const CLIENT = `
const net = require('node:net')
const [host, port, localPort, timeoutMs] = process.argv.slice(1)
const done = (result, code) => { console.log(JSON.stringify(result)); process.exit(code) }
setTimeout(() => done({ error: 'TIMEOUT' }, 2), Number(timeoutMs))
const socket = net.connect({ host, port: Number(port), ...(localPort === '0' ? {} : { localPort: Number(localPort) }) })
let line = ''
socket.setEncoding('utf8')
socket.on('data', data => { line += data; if (line.includes('\\n')) done({ bytes: line.length, localPort: socket.localPort }, 0) })
socket.on('error', err => done({ error: err.code }, 1))
`

/**
 * One side of a TCP hole punch: connect from localPort to the other side's public address
 * while the other side does the same (a simultaneous open), each try bounded by attemptMs,
 * retried until totalMs; once connected, exchange a line.
 */
const PUNCH = `
const net = require('node:net')
const { host, port, localPort, name, attemptMs, totalMs } = JSON.parse(process.argv[1])
const end = Date.now() + totalMs
const done = (result, code) => { console.log(JSON.stringify(result)); process.exit(code) }
function attempt (n) {
  const socket = net.connect({ host, port, localPort })
  let connected = false
  const timer = setTimeout(() => { socket.destroy(); next(n, 'TIMEOUT') }, attemptMs)
  socket.on('error', err => { clearTimeout(timer); socket.destroy(); if (!connected) next(n, err.code); else done({ error: err.code, attempts: n }, 1) })
  socket.on('connect', () => {
    connected = true
    clearTimeout(timer)
    setTimeout(() => done({ error: 'NO LINE', attempts: n }, 1), 5000)
    socket.setEncoding('utf8')
    let line = ''
    socket.on('data', data => {
      line += data
      if (line.includes('\\n')) { socket.end(); done({ line: line.trim(), attempts: n }, 0) }
    })
    socket.write('hello from ' + name + '\\n')
  })
}
function next (n, error) {
  if (Date.now() + attemptMs > end) done({ error, attempts: n }, 1)
  else setTimeout(() => attempt(n + 1), 100)
}
attempt(1)
`

const children = new Set<ChildProcess>()

/** `node -e script args…` inside a namespace; resolves with its JSON lines once it exits. */
async function runNode (ns: string, script: string, args: string[], limitMs = 15_000): Promise<any[]> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', data => { stdout += data })
  child.stderr.on('data', data => { stderr += data })
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  await new Promise(resolve => child.on('close', resolve))
  clearTimeout(timer)
  children.delete(child)
  if (stdout.trim() === '') throw new Error(`node in ${ns} printed nothing: ${stderr}`)
  return stdout.trim().split('\n').map(line => JSON.parse(line))
}

/** A long-running node program in a namespace, once it has printed its first line. */
async function startNode (ns: string, script: string, args: string[]): Promise<{ lines: any[], stop(): void }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const lines: any[] = []
  let partial = ''
  let stderr = ''
  child.stderr.on('data', data => { stderr += data })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node in ${ns} did not start: ${stderr}`)), 15_000)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`node in ${ns} exited (${code}): ${stderr}`)) })
    child.stdout.on('data', data => {
      partial += data
      const complete = partial.split('\n')
      partial = complete.pop() ?? ''
      lines.push(...complete.map(line => JSON.parse(line)))
      if (lines.length > 0) { clearTimeout(timer); resolve() }
    })
  })
  return { lines, stop: () => { child.kill('SIGKILL'); children.delete(child) } }
}

/** The line a server prints after its first `seen` ones (its stdout may trail the client's exit). */
async function lineAfter (server: { lines: any[] }, seen: number): Promise<any> {
  await expect.poll(() => server.lines.length, { timeout: 5000 }).toBeGreaterThan(seen)
  return server.lines[seen]
}

/** The namespaces `ip netns list` holds that start with this prefix. */
function namespacesWith (prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n')
    .map(line => line.split(' ')[0] ?? '').filter(name => name.startsWith(`${prefix}-`))
}

/** Interface names in the root namespace (the lab must add none). */
function rootLinks (): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n')
    .map(line => line.split(':')[1]?.trim() ?? '').filter(name => name !== '').sort()
}

describe.skipIf(!natLabAvailable())('NAT lab (network namespaces)', () => {
  let lab: NatLab
  let other: { ns: string, ip: string }
  let server: { lines: any[], stop(): void }
  let otherServer: { lines: any[], stop(): void }
  let rootBefore: string[]
  const SERVER_PORT = 4001

  beforeAll(async () => {
    rootBefore = rootLinks()
    lab = createNatLab({ homes: [{ name: 'a', nat: 'eim' }, { name: 'b', nat: 'eim' }, { name: 'c', nat: 'symmetric' }] })
    other = lab.addPublicHost('pub2')
    server = await startNode(lab.publicNs, SERVER, [String(SERVER_PORT), '100000'])
    otherServer = await startNode(other.ns, SERVER, [String(SERVER_PORT), '100000'])
  })

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL')
    lab?.remove()
  })

  it('builds the topology it describes', () => {
    const { a, b, c } = lab.homes
    expect(lab.publicIp).toBe('6.0.0.1')
    expect(other).toEqual({ ns: `${lab.prefix}-pub2`, ip: '6.0.0.2' })
    expect([a?.routerWanIp, b?.routerWanIp, c?.routerWanIp]).toEqual(['6.0.0.11', '6.0.0.12', '6.0.0.13'])
    expect([a?.hostIp, b?.hostIp, c?.hostIp]).toEqual(['10.0.1.2', '10.0.2.2', '10.0.3.2'])
    expect(namespacesWith(lab.prefix).sort()).toEqual([lab.publicNs, other.ns, a?.ns, a?.routerNs, b?.ns, b?.routerNs, c?.ns, c?.routerNs].sort())
    // Nothing was added to the root namespace: every lab link lives inside the lab.
    expect(rootLinks()).toEqual(rootBefore)
  })

  it('eim: a home reaches the public host from its router\'s WAN address, keeping its port, for every destination', async () => {
    const a = lab.homes.a!
    const bytesBefore = lab.publicHostBytes()
    const seen = server.lines.length
    const [reply] = await runNode(a.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '40001', '5000'])
    expect(reply).toEqual({ bytes: 100_001, localPort: 40001 })
    expect(await lineAfter(server, seen)).toEqual({ from: '6.0.0.11', port: 40001 })
    // The 100 kB reply went through the public host's interface...
    const bytesAfter = lab.publicHostBytes()
    expect(bytesAfter - bytesBefore).toBeGreaterThan(100_000)

    // ...and the same local port to another destination gets the same public port (the
    // mapping is endpoint-independent), while the public host only sees ARP-size noise of
    // traffic between two other hosts.
    const seenOther = otherServer.lines.length
    const [reply2] = await runNode(a.ns, CLIENT, [other.ip, String(SERVER_PORT), '40001', '5000'])
    expect(reply2).toEqual({ bytes: 100_001, localPort: 40001 })
    expect(await lineAfter(otherServer, seenOther)).toEqual({ from: '6.0.0.11', port: 40001 })
    expect(lab.publicHostBytes() - bytesAfter).toBeLessThan(5_000)
  })

  it('drops an unsolicited connection from outside (a timeout, not a refusal), even to a listening port', async () => {
    const a = lab.homes.a!
    // Something listens behind A on the port its NAT mapped above, so only the NAT can stop it.
    const listener = await startNode(a.ns, SERVER, ['40001', '0'])
    const started = Date.now()
    const [inbound] = await runNode(lab.publicNs, CLIENT, [a.routerWanIp, '40001', '0', '2000'])
    expect(inbound).toEqual({ error: 'TIMEOUT' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000)
    expect(listener.lines).toEqual([{ listening: 40001 }])
    listener.stop()
    // Homes have no route to each other's private network either: only through both NATs.
    const [private_] = await runNode(a.ns, CLIENT, [lab.homes.b!.hostIp, '40001', '0', '5000'])
    expect(private_.error).toMatch(/^E(HOST|NET)UNREACH$/)
  })

  it('eim ↔ eim: a TCP simultaneous open through both NATs connects', async () => {
    const a = lab.homes.a!
    const b = lab.homes.b!
    const punch = (from: typeof a, to: typeof a, localPort: number, remotePort: number): Promise<any[]> =>
      runNode(from.ns, PUNCH, [JSON.stringify({ host: to.routerWanIp, port: remotePort, localPort, name: from.name, attemptMs: 1500, totalMs: 6000 })])
    const started = Date.now()
    const [fromA, fromB] = await Promise.all([punch(a, b, 41001, 42001), punch(b, a, 42001, 41001)])
    expect(fromA).toEqual([expect.objectContaining({ line: 'hello from b' })])
    expect(fromB).toEqual([expect.objectContaining({ line: 'hello from a' })])
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('symmetric: each connection gets a new random public port, so a hole punch to it fails', async () => {
    const a = lab.homes.a!
    const c = lab.homes.c!
    const count = server.lines.length
    const [reply] = await runNode(c.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '43001', '5000'])
    expect(reply).toEqual({ bytes: 100_001, localPort: 43001 })
    const seen = await lineAfter(server, count)
    expect(seen.from).toBe('6.0.0.13')
    expect(seen.port).not.toBe(43001)
    // The same local port to another destination: another public port again.
    const countOther = otherServer.lines.length
    const [reply2] = await runNode(c.ns, CLIENT, [other.ip, String(SERVER_PORT), '43001', '5000'])
    expect(reply2).toEqual({ bytes: 100_001, localPort: 43001 })
    const seen2 = await lineAfter(otherServer, countOther)
    expect(seen2.from).toBe('6.0.0.13')
    expect(seen2.port).not.toBe(43001)
    expect(seen2.port).not.toBe(seen.port)

    // Both sides punch at the ports they would predict (the other's local port); C's NAT maps
    // its SYN to yet another port, which A's NAT does not expect, and A's SYN hits a port C's
    // NAT never opened: both dropped, both give up.
    const [fromA, fromC] = await Promise.all([
      runNode(a.ns, PUNCH, [JSON.stringify({ host: c.routerWanIp, port: 43002, localPort: 41002, name: 'a', attemptMs: 1500, totalMs: 4500 })]),
      runNode(c.ns, PUNCH, [JSON.stringify({ host: a.routerWanIp, port: 41002, localPort: 43002, name: 'c', attemptMs: 1500, totalMs: 4500 })])
    ])
    expect(fromA).toEqual([expect.objectContaining({ error: 'TIMEOUT' })])
    expect(fromC).toEqual([expect.objectContaining({ error: 'TIMEOUT' })])
  })

  it('setUplink cuts a home off the public side and brings it back', async () => {
    const b = lab.homes.b!
    lab.setUplink('b', false)
    const [cut] = await runNode(b.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '0', '3000'])
    // The router has no route out with its WAN down: it answers unreachable (or nothing).
    expect(cut.error).toMatch(/^(E(HOST|NET)UNREACH|TIMEOUT)$/)
    lab.setUplink('b', true)
    const count = server.lines.length
    const [back] = await runNode(b.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '0', '5000'])
    expect(back.bytes).toBe(100_001)
    expect((await lineAfter(server, count)).from).toBe(b.routerWanIp)
  })

  // Watching the mappings needs the kernel's /proc/net/nf_conntrack (not every kernel has it).
  it.skipIf(!existsSync('/proc/net/nf_conntrack'))('flushNat makes the router forget its NAT mappings', async () => {
    const a = lab.homes.a!
    const mappings = (): string[] => lab.exec(a.routerNs, 'cat', ['/proc/net/nf_conntrack']).split('\n')
      .filter(line => line.includes('sport=40009 '))
    const [reply] = await runNode(a.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '40009', '5000'])
    expect(reply.bytes).toBe(100_001)
    expect(mappings()).not.toEqual([]) // closed, but remembered (TIME_WAIT) for two minutes
    lab.flushNat('a')
    await expect.poll(mappings, { timeout: 5000 }).toEqual([])
    // and the home is online again at once
    const [again] = await runNode(a.ns, CLIENT, [lab.publicIp, String(SERVER_PORT), '40009', '5000'])
    expect(again.bytes).toBe(100_001)
  })

  it('remove() deletes every namespace it made, and again is harmless', () => {
    for (const child of children) child.kill('SIGKILL')
    lab.remove()
    expect(namespacesWith(lab.prefix)).toEqual([])
    expect(() => { lab.remove() }).not.toThrow()
    expect(rootLinks()).toEqual(rootBefore)
  })
})
