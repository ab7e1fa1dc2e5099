import { Command, Option } from 'commander'

function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}

/**
 * The `floe daemon` command. Kept free of the daemon's heavy imports: they load only when
 * the command runs, so `floe id` and friends start fast.
 */
export function daemonCommand (): Command {
  return new Command('daemon')
    .description('run the floe node: identity, libp2p host and the local HTTP API')
    .option('--api <host:port>', 'HTTP API address, loopback only (config: api, default 127.0.0.1:7460)')
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (config: listen)', collect, [])
    .option('--bootstrap <multiaddr>', 'peer to dial at start, repeatable (config: bootstrap)', collect, [])
    .option('--no-mdns', 'do not look for peers on the local network (config: mdns)')
    .option('--dht', "join floe's DHT to find providers beyond the gossip mesh, for this run (config: dht)")
    .option('--provider', 'share this machine: provider mode on for this run (config: provider.enabled)')
    .option('--relay', 'serve as a circuit relay for peers behind NATs, for this run; only useful on a publicly reachable node (config: relay.enabled, limits in relay.*)')
    .addOption(new Option('--log-level <level>', 'log level (config: logLevel)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .addOption(new Option('--log-format <format>', 'json: JSON log lines on stderr; pretty: a short line per event on stdout, the JSON in the log file only (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
    .action(async (_opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals()
      const { runDaemon } = await import('./main.js')
      const { resolveHome } = await import('../protocol/home.js')
      const { homedir } = await import('node:os')
      // --no-mdns gives mdns === false; its absence leaves config.json in charge.
      const mdnsFlagGiven = cmd.getOptionValueSource('mdns') === 'cli'
      await runDaemon({
        home: resolveHome(opts.home, process.env, homedir()),
        api: opts.api,
        listen: opts.listen,
        bootstrap: opts.bootstrap,
        mdns: mdnsFlagGiven ? opts.mdns : undefined,
        logLevel: opts.logLevel,
        logFormat: opts.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json'),
        dht: opts.dht === true ? true : undefined,
        provider: opts.provider,
        relay: opts.relay === true ? true : undefined
      })
      // Everything is stopped and flushed by now; libp2p can leave unref'd-late timers
      // (dial backoffs) that would hold the process for seconds more.
      process.exit()
    })
}
