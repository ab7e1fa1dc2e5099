import { spawn } from 'node:child_process'
import { Command } from 'commander'
import { ago, printJson, printLines, printTable } from '../output.js'
import { action } from './action.js'

export function nodeCommands (): Command[] {
  const id = new Command('id')
    .description("show this node's peer id and addresses")
    .action(action(async (client, _args, opts) => {
      const info = await client.call('id', {})
      if (opts.json === true) return printJson(info)
      const reach = info.reachability
      const why = reach.status === 'public'
        ? `reached by ${reach.checkedBy.length} peer(s) at ${reach.publicAddrs.join(', ')}`
        : reach.status === 'private'
          ? `behind a NAT or firewall: ${reach.checkedBy.length} peer(s) could not reach it; peers reach it through a relay${info.relayedAddresses.length === 0 ? ' (no relay reservation yet)' : ''}`
          : 'no public peer has checked yet'
      printLines([
        `peer id    ${info.peerId}`,
        ...info.addresses.map((addr, i) => `${i === 0 ? 'addresses ' : '          '} ${addr}`),
        `reachable  ${reach.status} (${why})`,
        ...reach.observedAddrs.map((addr, i) => `${i === 0 ? 'observed  ' : '          '} ${addr}`),
        ...(info.relay.enabled ? [`relay      serving ${info.relay.reservations} reservation(s)${info.relay.unlimited ? ', unlimited' : ''}`] : []),
        `api        ${info.apiUrl}`,
        `home       ${info.home}`,
        `version    ${info.agentVersion}`
      ])
    }))

  const peers = new Command('peers')
    .description('list connected peers; --known: every peer this node remembers (kept across restarts)')
    .option('--known', 'peers in the peer store, with why each is kept connected')
    .action(action(async (client, _args, opts) => {
      if (opts.known === true) {
        const { peers: known } = await client.call('peersKnown', {})
        if (opts.json === true) return printJson(known)
        if (known.length === 0) return printLines(['no peers known yet; connect one with: floe connect MULTIADDR'])
        return printTable(['PEER', 'CONNECTED', 'KEPT', 'LAST SEEN', 'ADDRESSES'], known.map(p => [
          p.peerId, p.connected ? 'yes' : 'no', p.kept.join(',') || '-', p.lastSeen == null ? '-' : ago(p.lastSeen), p.addrs.slice(0, 3).join('\n') + (p.addrs.length > 3 ? `\n(+${p.addrs.length - 3})` : '')
        ]))
      }
      const { peers } = await client.call('peers', {})
      if (opts.json === true) return printJson(peers)
      if (peers.length === 0) return printLines(['no peers connected; connect one with: floe connect MULTIADDR'])
      printTable(['PEER', 'ADDRESS', 'VIA', 'DIRECTION', 'RTT', 'CONNECTED'], peers.map(p => [
        p.peerId, p.addr, p.via, p.direction, p.rttMs == null ? '-' : `${p.rttMs} ms`, ago(p.openedAt)
      ]))
    }))

  const connect = new Command('connect')
    .description('connect to a peer and keep it connected, across restarts too, e.g. floe connect /ip4/127.0.0.1/tcp/4460/p2p/12D3KooW…')
    .argument('<multiaddr>', "the peer's address (from its floe id)")
    .action(action(async (client, args, opts) => {
      const result = await client.call('connect', { addr: args[0] ?? '' })
      if (opts.json === true) return printJson(result)
      printLines([`connected to ${result.peerId} at ${result.addr}`])
    }))

  const ui = new Command('ui')
    .description('print (and try to open) a one-time link that signs this browser in to the web UI')
    .option('--no-open', 'only print the link')
    .action(action(async (client, _args, opts) => {
      const link = await client.call('uiToken', {})
      if (opts.json === true) return printJson(link)
      printLines([link.url, `(works once, until ${link.expiresAt}; it signs the browser in with a cookie)`])
      if (opts.open !== false) openInBrowser(link.url)
    }))

  return [id, peers, connect, ui]
}

/** Opens a URL with the desktop's opener, when there is a desktop; quietly does nothing otherwise. */
export function openInBrowser (url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open'
  if (process.platform === 'linux' && process.env.DISPLAY == null && process.env.WAYLAND_DISPLAY == null) return
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true })
  child.on('error', () => { /* no opener: the link is printed above */ })
  child.unref()
}
