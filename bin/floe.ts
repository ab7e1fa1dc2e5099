#!/usr/bin/env node
// The floe executable only dispatches: `floe daemon` to the daemon's entry point, every
// other command to client/, which reaches the daemon through the HTTP API alone.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`floe: Node ${process.versions.node} is too old, floe needs Node >= 22; run ./floe from the repository, which fetches Node 24 by itself\n`)
  process.exit(1)
}

// Compiled code is cached on disk between runs: a CLI command starts ~25% sooner. Not for
// the daemon, which starts once and would keep ~7 MiB more resident for it.
const args = process.argv.slice(2)
const command = args.find((arg, i) => !arg.startsWith('-') && args[i - 1] !== '--home')
if (command !== 'daemon') {
  const { enableCompileCache } = await import('node:module')
  enableCompileCache?.()
} else if (!`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes('--max-semi-space-size') && typeof process.execve === 'function') {
  // The daemon's young generation is held to 4 MiB a semi-space (V8 grows it to 16 MiB or
  // more): ~28 MiB less resident, idle or not, with no cost that import or sync measured
  // (BENCHMARKS.md). V8 reads the flag only at start, so the process becomes itself with it,
  // keeping its pid, stdio and arguments. A flag given by the user is left as it is.
  process.execve(process.execPath, [process.execPath, '--max-semi-space-size=4', ...process.execArgv, ...process.argv.slice(1)])
}

const { floeProgram } = await import('./program.js')
await floeProgram().parseAsync(process.argv)
