import { Command } from 'commander'
import type { ProviderStatus } from '../../protocol/market/provider.js'
import type { Offer } from '../../protocol/market/offer.js'
import { formatDuration, formatSize } from '../../protocol/market/requirements.js'
import { ago, printJson, printLines, printTable } from '../output.js'
import { action } from './action.js'
import { numberOption } from './job-options.js'
import { earningsCommand } from './billing.js'
import { displayCommand, money } from '../../protocol/format.js'


function gpuSummary (gpus: Offer['gpus']): string {
  if (gpus.length === 0) return '-'
  const byModel = new Map<string, number>()
  for (const gpu of gpus) {
    const kind = `${gpu.model} ${formatSize(gpu.memoryBytes)}`
    byModel.set(kind, (byModel.get(kind) ?? 0) + 1)
  }
  return [...byModel].map(([model, n]) => `${n}× ${model}`).join(', ')
}

/** `; provider mode is off` when it is: why a provider may serve nothing. */
function status (provider: ProviderStatus): string {
  return provider.settings.enabled ? '' : '; provider mode is off (floe provider on)'
}

function printStatus (status: ProviderStatus): void {
  const { settings, offer, resources } = status
  const gpuPrices = Object.entries(settings.prices.perGpuHour).map(([model, price]) => `${model}=${money(price)}`).join(' ') || 'none'
  printLines([
    `provider mode   ${settings.enabled ? 'on' : 'off'}`,
    `shares          ${settings.cpus ?? 'all'} CPUs of ${resources.cpu.cores} (${resources.cpu.model ?? 'unknown model'}), ${settings.memoryBytes == null ? '3/4' : formatSize(settings.memoryBytes)} of ${formatSize(resources.memory.totalBytes)} memory, GPUs: ${settings.gpus === 'all' ? 'all' : settings.gpus.join(',') || 'none'}`,
    `gpus found      ${resources.gpus.length === 0 ? (resources.gpuError ?? 'none') : resources.gpus.map(g => `${g.index}: ${g.model} ${g.memoryBytes == null ? '' : formatSize(g.memoryBytes)}`).join('; ')}`,
    `docker          ${resources.docker.available ? `${resources.docker.version}; environments: ${resources.docker.environments.map(e => e.name).join(', ') || 'none'}` : resources.docker.error ?? 'unavailable'}`,
    `disk free       ${formatSize(resources.disk.freeBytes)} (${resources.disk.path})`,
    `prices /hour    cpu=${money(settings.prices.perCpuHour)} GiB=${money(settings.prices.perGiBHour)} gpu: ${gpuPrices}`,
    `environments    ${settings.acceptEnvironments ? `jobs may bring them, up to ${formatSize(settings.maxEnvironmentsBytes)} in all` : 'only those held (accept-environments off)'}`,
    `limits          ${settings.maxConcurrentJobs} jobs at once, ${formatDuration(settings.maxJobSeconds)} each, network ${settings.network ? 'allowed' : 'off'}`,
    `peers           allow ${settings.allow.join(',') || 'anyone'}; deny ${settings.deny.join(',') || 'none'}`,
    `offer           ${offer == null ? 'none published' : `seq ${offer.seq}, expires ${new Date(offer.expiresAt).toISOString()}`}`
  ])
}

/** `none of the 3 known offers has 1 free GPU (the most free: 0); floe providers lists them all` */
export function noMatch (offers: Offer[], filter: { gpus?: number, gpuModel?: string, env?: string }): string {
  const wants: string[] = []
  if (filter.gpus != null) wants.push(`${filter.gpus} free GPU${filter.gpus === 1 ? '' : 's'}${filter.gpuModel != null ? ` of model ${filter.gpuModel}` : ''}`)
  else if (filter.gpuModel != null) wants.push(`a GPU of model ${filter.gpuModel}`)
  if (filter.env != null) wants.push(`environment ${filter.env}`)
  const most = Math.max(0, ...offers.map(o => o.gpus.filter(g => g.free).length))
  const envs = [...new Set(offers.flatMap(o => o.environments))].sort()
  const seen = [
    ...(filter.gpus != null || filter.gpuModel != null ? [`the most free GPUs: ${most}${offers.some(o => o.gpus.length > 0) ? `; models: ${[...new Set(offers.flatMap(o => o.gpus.map(g => g.model)))].join(', ')}` : ''}`] : []),
    ...(filter.env != null ? [`environments: ${envs.join(', ') || 'none'}`] : [])
  ]
  return `none of the ${offers.length} known offer${offers.length === 1 ? '' : 's'} has ${wants.join(' and ')} (${seen.join('; ')}); floe providers lists them all`
}

export function marketCommands (): Command[] {
  const providers = new Command('providers')
    .description('live offers from providers: GPUs, free CPU and memory, environments, prices, latency')
    .option('--gpu <n>', 'only providers with at least N free GPUs')
    .option('--gpu-model <model>', 'only providers with this GPU model (substring, any case)')
    .option('--env <name>', 'only providers holding this environment')
    .action(action(async (client, _args, opts) => {
      const gpus = opts.gpu == null ? undefined : numberOption('--gpu', opts.gpu, '1', { integer: true })
      const { providers, rejections } = await client.call('providers', { gpus, gpuModel: opts.gpuModel, env: opts.env })
      if (opts.json === true) return printJson({ providers, rejections })
      if (providers.length === 0) {
        const known = gpus != null || opts.gpuModel != null || opts.env != null ? (await client.call('providers', {})).providers : []
        return printLines([known.length === 0
          ? 'no offers known yet; providers appear here once connected (floe connect ADDR) or found on the local network'
          : noMatch(known.map(p => p.offer), { gpus, gpuModel: opts.gpuModel, env: opts.env })])
      }
      printTable(['PEER', 'GPUS', 'CPU FREE', 'MEMORY FREE', 'ENVIRONMENTS', 'PRICE/H (CPU, GiB, GPU)', 'LATENCY', 'SEEN'], providers.map(({ offer, latencyMs, lastSeen }) => [
        offer.peerId,
        gpuSummary(offer.gpus.filter(g => g.free)),
        `${offer.cpu.free}/${offer.cpu.shared}`,
        formatSize(offer.memory.freeBytes),
        offer.environments.join(',') || '-',
        [money(offer.prices.perCpuHour), money(offer.prices.perGiBHour), ...Object.entries(offer.prices.perGpuHour).map(([m, p]) => `${m}=${money(p)}`)].join(', '),
        latencyMs == null ? '-' : `${latencyMs} ms`,
        ago(lastSeen)
      ]))
    }))

  const provider = new Command('provider').description("this node's provider mode: what it shares and at what price")
  provider.command('show').description('settings, measured resources and the offer being published')
    .action(action(async (client, _args, opts) => {
      const status = await client.call('providerShow', {})
      if (opts.json === true) return printJson(status)
      printStatus(status)
    }))
  for (const [name, enabled] of [['on', true], ['off', false]] as const) {
    provider.command(name).description(enabled ? 'share this machine: publish offers (kept in config.json)' : 'stop sharing: withdraw the offer (kept in config.json)')
      .action(action(async (client, _args, opts) => {
        const status = await client.call('providerEnable', { enabled })
        if (opts.json === true) return printJson(status)
        printStatus(status)
      }))
  }
  provider.command('jobs').description('jobs this node runs or ran for others (kept until their output is picked up), and what they earned')
    .action(action(async (client, _args, opts) => {
      const served = await client.call('providerJobs', {})
      if (opts.json === true) return printJson(served)
      if (served.jobs.length === 0) return printLines([`no jobs served${status(await client.call('providerShow', {}))}`])
      printTable(['JOB', 'CLIENT', 'ACCEPTED', 'STATUS', 'ENV', 'COMMAND', 'PRICE/H', 'COST', 'OUTPUT KEPT UNTIL'], served.jobs.map(job => [
        job.jobId.slice(0, 12), job.client, ago(job.acceptedAt), job.state, job.environment, displayCommand(job.command).slice(0, 40),
        money(job.pricePerHour), job.cost == null ? '-' : money(job.cost), job.keepUntil ?? '-'
      ]))
      printLines([`earned ${money(served.earned)}`])
    }))
    provider.command('set').description('change a setting: cpus, memory, gpus, price.cpu, price.memory, price.gpu.MODEL, max-jobs, max-duration, network, allow, deny')
    .argument('<key>').argument('<value>')
    .action(action(async (client, args, opts) => {
      const status = await client.call('providerSet', { key: args[0] ?? '', value: args[1] ?? '' })
      if (opts.json === true) return printJson(status)
      printStatus(status)
    }))

  provider.addCommand(earningsCommand())
  return [providers, provider]
}
