import { homedir } from 'node:os'
import { Command } from 'commander'
import { resolveHome } from '../protocol/home.js'
import type { ApiClient } from './api-client.js'
import { clientForHome } from './home-client.js'
import { ago, printJson, printLines, printTable } from './output.js'

interface GlobalOptions {
  home?: string
  json?: boolean
}

/**
 * Wraps a command's action: finds the daemon from --home, runs the action, and turns any
 * failure into one line on stderr and exit code 1 (FLOE_DEBUG=1 adds the stack).
 */
function action (run: (client: ApiClient, args: string[], opts: GlobalOptions & Record<string, any>) => Promise<void>) {
  return async (...params: any[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command
    const opts = cmd.optsWithGlobals() as GlobalOptions & Record<string, any>
    try {
      const client = await clientForHome(resolveHome(opts.home, process.env, homedir()))
      await run(client, cmd.args, opts)
    } catch (err: any) {
      process.stderr.write(`floe ${cmd.name()}: ${err?.message ?? err}\n`)
      if (process.env.FLOE_DEBUG === '1' && err?.stack != null) process.stderr.write(err.stack + '\n')
      process.exitCode = 1
    }
  }
}

const idCommand = new Command('id')
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

const peersCommand = new Command('peers')
  .description('list connected peers')
  .action(action(async (client, _args, opts) => {
    const { peers } = await client.call('peers', {})
    if (opts.json === true) return printJson(peers)
    if (peers.length === 0) return printLines(['no peers connected; connect one with: floe connect MULTIADDR'])
    printTable(['PEER', 'ADDRESS', 'DIRECTION', 'RTT', 'CONNECTED'], peers.map(p => [
      p.peerId, p.addr, p.direction, p.rttMs == null ? '-' : `${p.rttMs} ms`, ago(p.openedAt)
    ]))
  }))

const connectCommand = new Command('connect')
  .description('connect to a peer, e.g. floe connect /ip4/127.0.0.1/tcp/4460/p2p/12D3KooW…')
  .argument('<multiaddr>', "the peer's address (from its floe id)")
  .action(action(async (client, args, opts) => {
    const result = await client.call('connect', { addr: args[0] ?? '' })
    if (opts.json === true) return printJson(result)
    printLines([`connected to ${result.peerId} at ${result.addr}`])
  }))

/** Every command the CLI serves through the daemon's HTTP API. */
export function clientCommands (): Command[] {
  return [idCommand, peersCommand, connectCommand]
}
