import { createHash, randomBytes } from 'node:crypto'
import { readFile, realpath } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { streamChannel, type MessageChannel } from '../../daemon/p2p/message-channel.js'
import { decodeTunnelMessage, encodeTunnelMessage, MAX_TUNNEL_MESSAGE_BYTES, TUNNEL_PROTOCOL, type TunnelMessage } from '../../protocol/workspaces/tunnel.js'
import { removeLeftContainers } from '../helpers/containers.js'
import { floe, floeJson, resources, startDaemon, tempHome, type RunningDaemon } from '../helpers/floe.js'
import { hostileClient, type HostileClient } from '../helpers/hostile-client.js'
import { testPeerNode } from '../helpers/test-peer.js'

/**
 * Serve mode and the forwarding helper, against a modified client and a hostile job:
 * - a batch job's port is reached only by its client, and only on the ports its signed spec
 *   declares (`serve`); never a terminal or a process in it;
 * - the static busybox every container gets at /.floe/busybox is the host's own file, bound
 *   read-only: a job cannot change, replace or remove it.
 */
const r = resources()
const clients = new Set<string>()
const hostiles: HostileClient[] = []
let provider: RunningDaemon
let address: string

beforeAll(async () => {
  provider = r.daemon(await startDaemon(r.folder(await tempHome()), ['--provider']))
  clients.add(provider.endpoint.peerId)
  address = (await floeJson(['id', '--home', provider.home])).addresses[0]
})
afterEach(async () => {
  for (const client of hostiles.splice(0)) await client.stop()
})
afterAll(async () => {
  await r.cleanup()
  expect(await removeLeftContainers(clients), 'containers left behind').toEqual([])
})

/** A tunnel conversation opened by `node` to the provider: its first answer. */
async function openTunnel (node: HostileClient['node'], open: TunnelMessage): Promise<{ channel: MessageChannel, answer: TunnelMessage | null }> {
  const stream = await node.dialProtocol(multiaddr(address), TUNNEL_PROTOCOL)
  const channel = streamChannel(stream, provider.endpoint.peerId, MAX_TUNNEL_MESSAGE_BYTES)
  await channel.send(encodeTunnelMessage(open))
  const first = await channel.read({ signal: AbortSignal.timeout(10_000) })
  return { channel, answer: first == null ? null : decodeTunnelMessage(first) }
}

/** An HTTP request through an opened port tunnel: the bytes that come back. */
async function httpThrough (channel: MessageChannel, path: string): Promise<string> {
  await channel.send(encodeTunnelMessage({ type: 'data', bytes: new TextEncoder().encode(`GET ${path} HTTP/1.0\r\n\r\n`) }))
  await channel.send(encodeTunnelMessage({ type: 'eof' }))
  let text = ''
  while (true) {
    const bytes = await channel.read({ signal: AbortSignal.timeout(10_000) })
    if (bytes == null) break
    const message = decodeTunnelMessage(bytes)
    if (message.type === 'data') text += new TextDecoder().decode(message.bytes)
    if (message.type === 'exit' || message.type === 'error') break
  }
  channel.abort(new Error('done'))
  return text
}

describe('serve mode at the provider', () => {
  it('lets only the job\'s client reach only its declared port: another port, a terminal, a background process or another peer are refused', async () => {
    const client = await hostileClient({ peerId: provider.endpoint.peerId, address })
    hostiles.push(client)
    const page = `served ${randomBytes(4).toString('hex')}\n`
    const code = await client.folder({ 'index.html': await client.putRaw(new TextEncoder().encode(page)) })
    const jobId = randomBytes(16).toString('hex')
    // a server on 8080 (declared) and one on 9090 (not declared)
    const running = client.submit({ code, command: ['sh', '-c', 'httpd -p 9090 -h /code; exec httpd -f -p 8080 -h /code'], serve: [8080], timeoutSeconds: 120 }, { jobId, cancelAfterMs: 40_000, timeoutMs: 90_000 })

    // the declared port, from the job's client, once the job runs
    let answer: TunnelMessage | null = null
    let channel: MessageChannel | undefined
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      ({ channel, answer } = await openTunnel(client.node, { type: 'port', job: jobId, port: 8080 }))
      if (answer?.type === 'ready') break
      channel.abort(new Error('not yet'))
      await new Promise(resolve => setTimeout(resolve, 300))
    }
    expect(answer).toEqual({ type: 'ready' })
    await expect.poll(async () => {
      const opened = await openTunnel(client.node, { type: 'port', job: jobId, port: 8080 })
      return await httpThrough(opened.channel, '/index.html')
    }, { timeout: 15_000 }).toContain(page)
    channel?.abort(new Error('done'))

    // an undeclared port, though a server listens there
    const other = await openTunnel(client.node, { type: 'port', job: jobId, port: 9090 })
    expect(other.answer).toEqual({ type: 'error', message: `port 9090 of job ${jobId} is not served: the job's spec serves 8080` })
    const probe = await openTunnel(client.node, { type: 'probe', job: jobId, port: 9090 })
    expect(probe.answer?.type).toBe('error')
    // a terminal or a background process
    const shell = await openTunnel(client.node, { type: 'shell', job: jobId, command: ['cat', '/etc/passwd'], cols: 80, rows: 24 })
    expect(shell.answer).toEqual({ type: 'error', message: `job ${jobId} is a batch job: only its served port (8080) can be reached, not a terminal or a process` })
    const detach = await openTunnel(client.node, { type: 'detach', job: jobId, command: ['sh', '-c', 'echo pwned > /code/pwned'] })
    expect(detach.answer?.type).toBe('error')

    // another peer, to the declared port
    const { node: stranger } = await testPeerNode()
    try {
      await stranger.dial(multiaddr(address))
      const stolen = await openTunnel(stranger as any, { type: 'port', job: jobId, port: 8080 })
      expect(stolen.answer).toEqual({ type: 'error', message: `no running workspace or serving job ${jobId} of yours on this provider` })
    } finally {
      await stranger.stop()
    }

    const { messages } = await running
    expect(messages.some(message => message.type === 'finished')).toBe(true)
    // after the job: nothing
    const after = await openTunnel(client.node, { type: 'port', job: jobId, port: 8080 })
    expect(after.answer?.type).toBe('error')
  })
})

describe('the forwarding helper', () => {
  it('is the host\'s static busybox, read-only: a job cannot write, replace, remove or re-mount it, and the host file is unchanged', async () => {
    const host = await realpath('/bin/busybox')
    const before = createHash('sha256').update(await readFile(host)).digest('hex')
    const code = await r.codeFolder({ 'attack.sh': [
      'B=/.floe/busybox',
      'echo pwned > $B; echo "write=$?"',
      'cp /bin/sh $B; echo "copy=$?"',
      'rm -f $B; echo "remove=$?"',
      'mv $B /tmp/b; echo "move=$?"',
      'chmod 4777 $B; echo "chmod=$?"',
      'touch $B; echo "touch=$?"',
      'mount -o remount,rw $B 2>/dev/null; echo "remount=$?"',
      'dd if=/dev/zero of=$B bs=1 count=1 conv=notrunc 2>/dev/null; echo "dd=$?"',
      '$B echo still-runs'
    ].join('\n') + '\n' })
    const result = await floe(['run', '--home', provider.home, '--path', code, '--json', '--follow', '--', 'sh', '/code/attack.sh'], { timeoutMs: 90_000 })
    expect(result.code, result.stderr).toBe(0)
    const job = JSON.parse(result.stdout)
    const log = (await floe(['logs', job.ref, '--home', provider.home])).stdout
    for (const step of ['write', 'copy', 'remove', 'move', 'chmod', 'touch', 'remount', 'dd']) {
      expect(log, `${step} succeeded`).toMatch(new RegExp(`${step}=[1-9]`))
    }
    expect(log).toContain('still-runs')
    const after = createHash('sha256').update(await readFile(host)).digest('hex')
    expect(after).toBe(before)
  })
})
