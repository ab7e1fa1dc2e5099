import type { Libp2p } from '@libp2p/interface'
import { FLOE_AGENT, FLOE_VERSION } from '../../protocol/version.js'
import type { datasetService } from '../datasets/index.js'
import { peerLatencies } from '../market/latency.js'
import { connectPeer, listPeers, networkView, type P2pServices, type PeerKeeper } from '../p2p/index.js'
import type { RelaySettings } from '../config/config.js'
import type { repoService } from '../store/repo.js'
import type { ProviderStatus } from '../../protocol/market/provider.js'
import type { MarketService } from '../market/market-service.js'
import { gpuModelMatches, matchOffers } from '../market/match.js'
import type { ProviderSettingsStore } from '../market/provider-settings.js'
import type { Resources } from '../market/resources/index.js'
import { resourcesView } from '../market/resources-view.js'
import type { JobService } from '../jobs/job-service.js'
import type { ServedJob } from '../../protocol/jobs/view.js'
import type { ProviderDiscovery } from '../market/provider-discovery.js'
import type { ApiHandlers } from './server.js'
import { projectHandlers, type ProjectHandlerComponents } from './project-handlers.js'
import { uiHandlers, type UiComponents } from './ui-handlers.js'
import type { WorkspaceService } from '../workspaces/workspace-service.js'
import type { ServedPorts } from '../forwards/served-ports.js'
import type { JobView } from '../../protocol/jobs/view.js'
import { WorkspaceStateError } from '../workspaces/errors.js'
import { JobStateError } from '../jobs/errors.js'
import { CID } from 'multiformats/cid'
import { envHandlers, type EnvHandlerComponents } from './env-handlers.js'
import { jobDependencies } from '../environments/requirements.js'
import { billingHandlers } from './billing-handlers.js'
import { marketHandlers } from './market-handlers.js'
import { runConfigHandlers } from './run-config-handlers.js'
import type { BillingService } from '../billing/index.js'

export interface ApiHandlerComponents {
  host: Pick<Libp2p<Pick<P2pServices, 'ping' | 'reachability' | 'relay'>>, 'peerId' | 'getMultiaddrs' | 'getProtocols' | 'getConnections' | 'dial' | 'services'>
  /** peers kept connected and remembered, and this node's relay limits */
  network: { keeper: Pick<PeerKeeper, 'keep' | 'known'>, relay: RelaySettings }
  home: string
  apiUrl: () => string
  startedAt: Date
  datasets: ReturnType<typeof datasetService>
  repo: ReturnType<typeof repoService>
  market: MarketService
  providerSettings: ProviderSettingsStore
  detectResources: () => Promise<Resources>
  jobs: JobService
  served: () => ServedJob[]
  /** announces this node in the DHT when it becomes a provider */
  discovery: Pick<ProviderDiscovery, 'announce'>
  projects: Omit<ProjectHandlerComponents, 'host'>
  ui: UiComponents
  environments: EnvHandlerComponents['environments']
  workspaces: WorkspaceService
  /** served jobs' ports (`floe run --serve`) */
  serving: Pick<ServedPorts, 'watch' | 'list'>
  billing: BillingService
}

/** Maps each declared route to the operation that serves it. */
export function apiHandlers ({ host, network, home, apiUrl, startedAt, datasets, repo, market, providerSettings, detectResources, jobs, served, discovery, projects, ui, environments, workspaces, serving, billing }: ApiHandlerComponents): ApiHandlers {
  const providerStatus = async (): Promise<ProviderStatus> => ({
    settings: providerSettings.get(),
    offer: market.book.get(host.peerId.toString())?.offer ?? null,
    resources: resourcesView(market.lastResources() ?? await detectResources())
  })

  /** a job that serves ports has them forwarded here while it runs */
  const watchServed = (job: JobView): JobView => {
    serving.watch(job)
    return job
  }

  return {
    id: async () => ({
      peerId: host.peerId.toString(),
      addresses: host.getMultiaddrs().map(ma => ma.toString()),
      ...networkView(host, network.relay),
      protocols: host.getProtocols(),
      agentVersion: FLOE_AGENT,
      version: FLOE_VERSION,
      apiUrl: apiUrl(),
      home,
      startedAt: startedAt.toISOString()
    }),
    peers: async () => ({ peers: listPeers(host) }),
    peersKnown: async () => ({ peers: await network.keeper.known() }),
    connect: async ({ addr }, { signal }) => {
      const connected = await connectPeer(host, addr, { signal })
      await network.keeper.keep(connected.peerId)
      return connected
    },

    datasetUpload: async (input, { signal, progress }) => await datasets.upload(input, { signal, onProgress: progress }),
    datasetList: async ({ name }) => ({ datasets: await datasets.list(name) }),
    datasetAdd: async ({ job: ref, name, message }, { signal }) => {
      const job = await jobs.show(ref.replace(/\/output$/, ''))
      if (job.outputCid == null) throw new JobStateError(`job ${job.ref} has no output (it is ${job.state}); add the output of a finished job`)
      return await datasets.adopt({ name: name ?? job.project.split('/').at(-1) ?? job.project, cid: CID.parse(job.outputCid), message: message || `output of ${job.ref}` }, { signal })
    },
    datasetGet: async ({ ref, dest, transport }, { signal, progress }) => ({ ...await datasets.get(ref, dest, { transport, signal, onProgress: progress }), dest }),
    datasetPublish: async ({ ref, public: makePublic }) => await datasets.publish(ref, makePublic),
    datasetRemove: async ({ ref }) => ({ removed: await datasets.remove(ref) }),

    repoStat: async (_input, { signal }) => await repo.stat({ signal }),
    repoGc: async (_input, { signal }) => await repo.gc({ signal }),
    carExport: async ({ ref, file }, { signal, progress }) => {
      const root = await datasets.resolve(ref)
      const result = await repo.exportCar(root, file, { signal, onProgress: p => { progress({ phase: 'export' as const, ...p }) } })
      return { root: root.toString(), file, ...result }
    },
    carImport: async ({ file }, { signal, progress }) => {
      const result = await repo.importCar(file, { signal, onProgress: p => { progress({ phase: 'import' as const, ...p }) } })
      return { roots: result.roots.map(String), blocks: result.blocks, bytes: result.bytes }
    },

    providers: async ({ gpus, gpuModel, env }) => {
      const entries = market.book.list()
        .filter(({ offer }) => gpus == null || offer.gpus.filter(g => g.free && gpuModelMatches(g.model, gpuModel)).length >= gpus)
        .filter(({ offer }) => gpuModel == null || offer.gpus.some(g => gpuModelMatches(g.model, gpuModel)))
        .filter(({ offer }) => env == null || offer.environments.includes(env))
        .sort((a, b) => a.offer.peerId.localeCompare(b.offer.peerId))
      const latency = await peerLatencies(host, entries.map(e => e.offer.peerId))
      return {
        providers: entries.map(({ offer, receivedAt }) => ({ offer, latencyMs: latency.get(offer.peerId) ?? null, lastSeen: new Date(receivedAt).toISOString() })),
        rejections: market.book.rejections()
      }
    },
    providerShow: providerStatus,
    providerEnable: async ({ enabled }) => {
      await providerSettings.setEnabled(enabled)
      await market.announce()
      if (enabled) void discovery.announce()
      return await providerStatus()
    },
    providerSet: async ({ key, value }) => {
      await providerSettings.set(key, value)
      await market.announce()
      return await providerStatus()
    },
    providerJobs: async () => {
      const list = served()
      return { jobs: list, earned: Math.round(list.reduce((sum, job) => sum + (job.cost ?? 0), 0) * 1e6) / 1e6 }
    },
    match: async ({ requirements }) => {
      const offers = market.book.list().map(e => e.offer)
      const latency = await peerLatencies(host, offers.map(o => o.peerId))
      // an environment held here as content travels with the job: providers that take its size fit
      const image = requirements.environment != null && requirements.environmentBytes == null ? await environments.imageFor(requirements.environment) : undefined
      return matchOffers(offers, image != null ? { ...requirements, environmentBytes: image.bytes } : requirements, { now: Date.now(), latencyMs: peerId => latency.get(peerId), reliability: jobs.reliability })
    },

    jobRun: async (input, { signal, progress }) => {
      // dependencies (requirements.txt) become a derived environment built here, so the job itself runs offline
      const deps = await jobDependencies(input)
      const derived = deps == null
        ? null
        : await environments.withDependencies(input.environment, deps, { signal, onProgress: p => { progress({ phase: 'build', bytes: p.bytes, totalBytes: p.totalBytes, ...(p.message != null ? { message: p.message } : {}) }) } })
      return watchServed(await jobs.run({ ...input, environment: derived?.record.name ?? input.environment, requirements: input.requirements }, { signal, onProgress: progress }))
    },
    jobRerun: async (input, { signal }) => {
      // a workspace's next run must start from its saved home and /code: that is its restart
      const source = await jobs.show(input.ref)
      if (source.spec.workspace != null) throw new WorkspaceStateError(`${source.message !== '' ? `workspace ${source.message}` : source.ref} is a workspace, not a job to rerun; continue it with floe workspace restart ${source.message !== '' ? source.message : source.ref}`)
      return watchServed(await jobs.rerun(input, { signal }))
    },
    jobList: async ({ project, includeDeleted }) => ({ jobs: await jobs.list({ project, includeDeleted: includeDeleted === 'true' }) }),
    jobDelete: async ({ ref }) => await jobs.deleteJob(ref),
    jobShow: async ({ ref }) => await jobs.show(ref),
    jobMetrics: async ({ ref }) => await jobs.metrics(ref),
    jobSystemMetrics: async ({ ref }) => await jobs.systemMetrics(ref),
    jobLogs: async ({ ref, after, follow }, { signal, progress }) => await jobs.logs(ref, { after, follow, signal, onLine: progress }),
    jobStop: async ({ ref }) => await jobs.stopJob(ref),
    jobOutput: async ({ ref, dest }, { signal, progress }) => ({ ...await jobs.write(ref, dest, 'output', { signal, onProgress: progress }), dest }),
    jobClone: async ({ ref, dest }, { signal, progress }) => ({ ...await jobs.write(ref, dest, 'code', { signal, onProgress: progress }), dest }),
    ...projectHandlers({ host, ...projects }),
    ...uiHandlers(ui),
    ...envHandlers({ environments }),
    ...runConfigHandlers(),
    ...billingHandlers({
      billing,
      projectOf: async ref => ref == null ? await projects.projects.defaultProject() : await projects.projects.resolve(ref),
      // a read (floe status, budget show) never makes the default project
      existingProject: async ref => ref == null ? await projects.projects.findDefaultProject() : await projects.projects.resolve(ref)
    }),
    ...marketHandlers({ offering: () => market.book.list().map(e => e.offer.peerId), reliability: jobs.reliability }),
    workspaceStart: async (input) => await workspaces.startWorkspace(input),
    workspaceList: async () => await workspaces.list(),
    workspaceRestart: async ({ ref, ...changes }) => await workspaces.restart(ref, changes),
    workspaceHistory: async ({ ref }) => await workspaces.history(ref),
    workspacePort: async ({ ref, port, local }) => await workspaces.forward(ref, port, local),
    workspaceSave: async ({ ref }) => await jobs.saveHome(ref),
    workspaceDetach: async ({ ref, command }) => await workspaces.detach(ref, command),
    serveList: async () => ({ ports: serving.list() }),
    workspaceNotebook: async ({ ref }) => await workspaces.notebook(ref)
  }
}
