import { Command } from 'commander'
import { ago, printJson, printLines, printTable } from '../output.js'
import { action } from './action.js'

export function nodeCommands (): Command[] {
  const id = new Command('id')
    .description("show this node's peer id and addresses")
    .action(action(async (client, _args, opts) => {
      const info = await client.call('id', {})
      if (opts.json === true) return printJson(info)
      printLines([
        `peer id    ${info.peerId}`,
        ...info.addresses.map((addr, i) => `${i === 0 ? 'addresses ' : '          '} ${addr}`),
        `api        ${info.apiUrl}`,
        `home       ${info.home}`,
        `version    ${info.agentVersion}`
      ])
    }))

  const peers = new Command('peers')
    .description('list connected peers')
    .action(action(async (client, _args, opts) => {
      const { peers } = await client.call('peers', {})
      if (opts.json === true) return printJson(peers)
      if (peers.length === 0) return printLines(['no peers connected; connect one with: floe connect MULTIADDR'])
      printTable(['PEER', 'ADDRESS', 'DIRECTION', 'RTT', 'CONNECTED'], peers.map(p => [
        p.peerId, p.addr, p.direction, p.rttMs == null ? '-' : `${p.rttMs} ms`, ago(p.openedAt)
      ]))
    }))

  const connect = new Command('connect')
    .description('connect to a peer, e.g. floe connect /ip4/127.0.0.1/tcp/4460/p2p/12D3KooW…')
    .argument('<multiaddr>', "the peer's address (from its floe id)")
    .action(action(async (client, args, opts) => {
      const result = await client.call('connect', { addr: args[0] ?? '' })
      if (opts.json === true) return printJson(result)
      printLines([`connected to ${result.peerId} at ${result.addr}`])
    }))

  return [id, peers, connect]
}
