import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { RECIPES, type EnvironmentView, type EnvProgress } from '../../protocol/environments/environment.js'
import { formatSize } from '../../protocol/market/requirements.js'
import { ago, printJson, printLines, printTable } from '../output.js'
import { progressBar } from '../progress.js'
import { action } from './action.js'

/** `IMAGE` names a file when one is there (a tar docker save wrote), else an image Docker knows. */
async function isFile (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

/**
 * Progress of publish and build: lines of text (build output, debootstrap) to stderr as they
 * come, bytes as a progress bar on a terminal; nothing with --json.
 */
function envProgress (enabled: boolean): { update(p: EnvProgress): void, stop(): void } {
  const bar = progressBar(enabled)
  return {
    update (p) {
      if (!enabled) return
      if (p.message != null) {
        bar.stop()
        process.stderr.write(`${p.phase}: ${p.message}\n`)
      } else if (p.bytes > 0) {
        bar.update({ phase: p.phase as 'import', bytes: p.bytes, totalBytes: p.totalBytes })
      }
    },
    stop () { bar.stop() }
  }
}

function summary (env: EnvironmentView): string {
  return `${env.name}  ${env.cid ?? '(not published)'}  (${formatSize(env.bytes)}, ${env.layers ?? '?'} layers, ${env.accelerator}${env.image != null ? `, image ${env.image}` : ''})`
}

/** publish and build: progress while the daemon works, then the environment (or its JSON). */
async function reportEnv (json: boolean, run: (onProgress: (p: EnvProgress) => void) => Promise<EnvironmentView>): Promise<void> {
  const progress = envProgress(!json)
  let env: EnvironmentView
  try {
    env = await run(p => { progress.update(p) })
  } finally {
    progress.stop()
  }
  if (json) printJson(env)
  else printLines([summary(env)])
}

export function envCommand (): Command {
  const env = new Command('env').description('environments: named Docker images that travel between peers as content')

  env.command('ls')
    .description('environments this node published, built, pulled, fetched for jobs, or holds as labelled images (size, how long each took to make); and the recipes not built here yet')
    .action(action(async (client, _args, opts) => {
      const { environments } = await client.call('envList', {})
      if (opts.json === true) return printJson(environments)
      if (environments.length === 0) return printLines(['no environments yet; publish one with: floe env publish IMAGE, or build one: floe env build --recipe busybox'])
      printTable(['NAME', 'ORIGIN', 'HELD', 'SIZE', 'TOOK', 'LAYERS', 'ACCEL', 'CID', 'USED', 'DESCRIPTION'], environments.map(e => [
        e.name, e.origin, e.held ? 'yes' : 'no', e.origin === 'recipe' && e.bytes === 0 ? '-' : formatSize(e.bytes), e.buildSeconds == null ? '-' : `${e.buildSeconds} s`,
        e.layers == null ? '-' : String(e.layers), e.accelerator,
        e.cid ?? '-', e.lastUsedAt == null ? '-' : ago(e.lastUsedAt), e.description.slice(0, e.origin === 'recipe' ? 160 : 60)
      ]))
    }))

  env.command('publish')
    .description('save a local image (or a tar docker save wrote) as content, a file per layer, and record it under a name')
    .argument('<image>', 'an image Docker holds (repo:tag or id), or a docker save tar file')
    .option('--name <name>', "the environment's name (default: the image's repository name; for an id or a tar, its org.floe.environment label)")
    .action(action(async (client, args, opts) => {
      const given = args[0] ?? ''
      const file = await isFile(given) ? resolve(given) : undefined
      await reportEnv(opts.json === true, async onProgress => await client.call('envPublish', { ...(file != null ? { file } : { image: given }), name: opts.name }, { onProgress }))
    }))

  env.command('pull')
    .description("pull an image from a registry with this node's Docker engine, then publish it as content (jobs elsewhere fetch it from peers)")
    .argument('<image>', 'IMAGE[:TAG] or IMAGE@sha256:DIGEST, with its registry (e.g. 127.0.0.1:5000/team/torch:2.1)')
    .option('--name <name>', "the environment's name (default: the image's repository name)")
    .action(action(async (client, args, opts) => {
      await reportEnv(opts.json === true, async onProgress => await client.call('envPull', { image: args[0] ?? '', name: opts.name }, { onProgress }))
    }))

  env.command('build')
    .description('build an environment on one held here and publish it; or build a built-in recipe (busybox, python-3.11, pytorch-1.13-cpu)')
    .argument('[name]', 'the new environment\'s name')
    .option('--from <env>', 'the environment to build on (held here: nothing is pulled)')
    .option('--apt <packages...>', 'Debian packages to install (the base must have apt; the build then uses the network)')
    .option('--file <dockerfile>', 'a Dockerfile without FROM: its instructions follow FROM ENV; its folder is the build context')
    .addOption(new Option('--recipe <recipe>', 'a built-in recipe, built offline from Debian (python-3.11 and pytorch-1.13-cpu: minutes, GBs, root)').choices([...RECIPES]))
    .action(action(async (client, args, opts) => {
      await reportEnv(opts.json === true, async onProgress => await client.call('envBuild', {
        ...(opts.recipe != null ? { recipe: opts.recipe } : {}),
        ...(args[0] != null ? { name: args[0] } : {}),
        ...(opts.from != null ? { from: opts.from } : {}),
        apt: opts.apt ?? [],
        ...(opts.file != null ? { file: resolve(opts.file) } : {})
      }, { onProgress }))
    }))

  env.command('rm')
    .description("forget an environment published or built here (floe gc frees its blocks; floe's tag of its image goes)")
    .argument('<name>')
    .action(action(async (client, args, opts) => {
      const removed = await client.call('envRemove', { name: args[0] ?? '' })
      if (opts.json === true) return printJson(removed)
      printLines([`removed ${removed.removed} (${removed.cid})`])
    }))

  return env
}
