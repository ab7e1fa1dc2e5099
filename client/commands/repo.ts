import { Command } from 'commander'
import { printJson, printLines } from '../output.js'
import { formatSize } from '../../protocol/market/requirements.js'
import { action } from './action.js'

export function repoCommands (): Command[] {
  const repo = new Command('repo').description("the daemon's block store")
  repo.command('stat')
    .description('blocks and bytes held, and how much is pinned')
    .action(action(async (client, _args, opts) => {
      const stat = await client.call('repoStat', {})
      if (opts.json === true) return printJson(stat)
      printLines([
        `blocks         ${stat.blocks}`,
        `bytes          ${formatSize(stat.bytes)} (${stat.bytes})`,
        `pins           ${stat.pins}`,
        `pinned blocks  ${stat.pinnedBlocks}`,
        `pinned bytes   ${formatSize(stat.pinnedBytes)} (${stat.pinnedBytes})`,
        `path           ${stat.path}`
      ])
    }))

  const gc = new Command('gc')
    .description('remove every block that no dataset, output or pin keeps')
    .action(action(async (client, _args, opts) => {
      const result = await client.call('repoGc', {})
      if (opts.json === true) return printJson(result)
      printLines([`removed ${result.removedBlocks} blocks, freed ${formatSize(result.freedBytes)}`])
    }))

  return [repo, gc]
}
