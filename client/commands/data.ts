import { basename, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { ago, printJson, printLines, printTable } from '../output.js'
import { formatSize } from '../../protocol/market/requirements.js'
import { withProgressBar } from '../progress.js'
import { action } from './action.js'
import { findDataLink, writeDataLink } from '../data-link.js'
import { expandJobRef } from '../project-link.js'

export function dataCommand (): Command {
  const data = new Command('data').description('datasets: named, versioned content (NAME, NAME:N or a CID)')

  data.command('init')
    .description('make the current folder dataset NAME (as floyd data init): floe data upload there, with no path, uploads it as NAME\'s next version')
    .argument('<name>', 'the dataset name')
    .action(action(async (client, args, opts) => {
      const name = args[0] ?? ''
      const versions = (await client.call('datasetList', { name })).datasets
      const path = await writeDataLink('.', name)
      if (opts.json === true) return printJson({ name, folder: resolve('.'), link: path, versions: versions.length })
      printLines([`${resolve('.')} is dataset ${name}${versions.length > 0 ? ` (${versions.length} version${versions.length > 1 ? 's' : ''} so far)` : ''}; upload it with: floe data upload`])
    }))

  data.command('status')
    .description("a dataset's versions, sizes and ages (default: the folder's, from floe data init; else every dataset)")
    .argument('[name]', 'the dataset')
    .action(action(async (client, args, opts) => {
      const name = args[0] ?? (await findDataLink('.'))?.name
      const { datasets } = await client.call('datasetList', { name })
      if (opts.json === true) return printJson({ name: name ?? null, versions: datasets })
      if (datasets.length === 0) return printLines([name == null ? 'no datasets yet; make this folder one with floe data init NAME, then floe data upload' : `dataset ${name} has no versions yet; upload one with: floe data upload${args[0] == null ? '' : ` PATH --name ${name}`}`])
      printTable(['VERSION', 'SIZE', 'FILES', 'AGE', 'ACCESS', 'CID', 'MESSAGE'], datasets.map(d => [
        `${d.name}:${d.version}`, formatSize(d.bytes), String(d.files), ago(d.createdAt), d.public === true ? 'public' : 'private', d.cid, d.message
      ]))
    }))

  data.command('add')
    .description("a finished job's output as the next version of a dataset, under the same CID: nothing is copied")
    .argument('<job-output>', 'N/output, PROJECT/N/output (or the job alone)')
    .option('--name <name>', "the dataset (default: the job's project's name)")
    .option('-m, --message <message>', 'a note for this version (default: "output of JOB")', '')
    .action(action(async (client, args, opts) => {
      const job = await expandJobRef((args[0] ?? '').replace(/\/output$/, ''))
      const dataset = await client.call('datasetAdd', { job, ...(opts.name != null ? { name: opts.name } : {}), message: opts.message })
      if (opts.json === true) return printJson(dataset)
      printLines([`${dataset.name}:${dataset.version}  ${dataset.cid}  (${dataset.files} files, ${formatSize(dataset.bytes)}; the job's output, not copied)`])
    }))

  data.command('upload')
    .description('import a file or folder as a new version of a dataset (default: the current folder, as the dataset floe data init named)')
    .argument('[path]', 'file or folder to import (default: the current folder)')
    .option('--name <name>', 'dataset name (default: the folder\'s, from floe data init; else the file or folder name)')
    .option('-m, --message <message>', 'a note for this version', '')
    .addOption(new Option('--cid-version <n>', "0: ipfs add's defaults (CIDv0, 256 KiB chunks); 1: CIDv1, raw leaves, 1 MiB chunks").choices(['0', '1']).default('1'))
    .addOption(new Option('--chunker <kind>', 'fixed-size chunks, or content-defined (rabin) for data that changes by insertion').choices(['fixed', 'rabin']).default('fixed'))
    .option('--public', 'let any peer fetch it (default: private: only your projects\' members and your jobs\' providers)')
    .action(action(async (client, args, opts) => {
      const path = resolve(args[0] ?? '.')
      const linked = await findDataLink(path).catch(() => undefined)
      const dataset = await withProgressBar(opts.json !== true, async onProgress => await client.call('datasetUpload', {
        path,
        name: opts.name ?? linked?.name ?? basename(path),
        message: opts.message,
        cidVersion: Number(opts.cidVersion) as 0 | 1,
        chunker: opts.chunker,
        public: opts.public === true
      }, { onProgress }))
      if (opts.json === true) return printJson(dataset)
      printLines([`${dataset.name}:${dataset.version}  ${dataset.cid}  (${dataset.files} files, ${formatSize(dataset.bytes)}${dataset.public === true ? `, public: any peer gets it as ${dataset.shareName ?? ''}` : ''})`])
    }))

  data.command('publish')
    .description('let any peer fetch a dataset version (NAME:N, or NAME for its latest); --private undoes it')
    .argument('<ref>', 'NAME or NAME:N')
    .option('--private', 'make it private again: only your projects\' members and your jobs\' providers may fetch it')
    .action(action(async (client, args, opts) => {
      const dataset = await client.call('datasetPublish', { ref: args[0] ?? '', public: opts.private !== true })
      if (opts.json === true) return printJson(dataset)
      printLines([`${dataset.name}:${dataset.version}  ${dataset.cid}  is ${dataset.public === true ? `public: any peer may fetch it, as ${dataset.shareName ?? ''}` : 'private'}`])
    }))

  data.command('ls')
    .description("list datasets and their versions: this node's, or the versions another owner published (OWNER/NAME)")
    .argument('[name]', 'only this dataset (NAME), or another owner\'s (OWNER/NAME: a peer id, or a project owner\'s name)')
    .action(action(async (client, args, opts) => {
      const { datasets } = await client.call('datasetList', { name: args[0] })
      if (opts.json === true) return printJson(datasets)
      if (datasets.length === 0) return printLines([args[0] == null ? 'no datasets yet; add one with: floe data upload PATH --name NAME' : args[0].includes('/') ? `${args[0]}: its owner has published no versions by that name (only public versions have a shared name)` : `no dataset named "${args[0]}"`])
      printTable(['DATASET', 'CID', 'SIZE', 'FILES', 'ACCESS', 'CREATED', 'SHARED AS', 'MESSAGE'], datasets.map(d => [
        `${d.name}:${d.version}`, d.cid, formatSize(d.bytes), String(d.files), d.public === true ? 'public' : 'private', ago(d.createdAt), d.shareName ?? '-', d.message
      ]))
    }))

  data.command('get')
    .description("write a dataset (NAME, NAME:N, another owner's OWNER/NAME:N) or any UnixFS CID to DEST, which must not exist yet")
    .argument('<ref>', 'NAME, NAME:N, OWNER/NAME[:N] or a CID')
    .argument('<dest>', 'where to write it')
    .addOption(new Option('--transport <how>', 'for content held by peers: the bulk protocol then bitswap (auto), or only one').choices(['auto', 'bulk', 'bitswap']).default('auto'))
    .action(action(async (client, args, opts) => {
      const result = await withProgressBar(opts.json !== true, async onProgress =>
        await client.call('datasetGet', { ref: args[0] ?? '', dest: resolve(args[1] ?? ''), transport: opts.transport }, { onProgress }))
      if (opts.json === true) return printJson(result)
      printLines([`${result.cid} → ${result.dest}  (${result.files} files, ${formatSize(result.bytes)}, ${result.via === 'local' ? 'held here' : `fetched over ${result.via}`})`])
    }))

  data.command('rm')
    .alias('delete')
    .description('remove a dataset version (NAME:N) or all its versions (NAME); floe gc frees the space')
    .argument('<ref>', 'NAME or NAME:N')
    .action(action(async (client, args, opts) => {
      const { removed } = await client.call('datasetRemove', { ref: args[0] ?? '' })
      if (opts.json === true) return printJson(removed)
      printLines(removed.map(d => `removed ${d.name}:${d.version} (${d.cid})`))
    }))

  data.command('export')
    .description('write a dataset or CID as a CAR file')
    .argument('<ref>', 'NAME, NAME:N or a CID')
    .requiredOption('--car <file>', 'the CAR file to write (must not exist)')
    .action(action(async (client, args, opts) => {
      const result = await withProgressBar(opts.json !== true, async onProgress =>
        await client.call('carExport', { ref: args[0] ?? '', file: resolve(opts.car) }, { onProgress }))
      if (opts.json === true) return printJson(result)
      printLines([`${result.root} → ${result.file}  (${result.blocks} blocks, ${formatSize(result.bytes)})`])
    }))

  data.command('import')
    .description('import a CAR file, verifying every block; its roots are kept (pinned)')
    .argument('<file>', 'the CAR file')
    .action(action(async (client, args, opts) => {
      const result = await withProgressBar(opts.json !== true, async onProgress =>
        await client.call('carImport', { file: resolve(args[0] ?? '') }, { onProgress }))
      if (opts.json === true) return printJson(result)
      printLines([`imported ${result.blocks} blocks (${formatSize(result.bytes)}); roots:`, ...result.roots.map(r => `  ${r}`)])
    }))

  return data
}
