import { mkdir } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import type Docker from 'dockerode'
import { CID } from 'multiformats/cid'
import { createLibp2p } from 'libp2p'
import { homePaths, type ApiEndpoint } from '../protocol/home.js'
import { apiHandlers, startApiServer, uiRawRoutes, uiSessions, type UiComponents } from './api/index.js'
import { ConfigError, loadConfig, parseApiAddress, type Config } from './config/index.js'
import { loadOrCreateApiToken, loadOrCreateIdentity, lockHome, removeApiEndpoint, writeApiEndpoint } from './home/index.js'
import { notifier } from './notify/notifier.js'
import { createLogger, type LogFormat, type Logger } from './log.js'
import { requireDag, type RequireDag } from './content/require-dag.js'
import { datasetService } from './datasets/index.js'
import { createImageClient, environmentCache, environmentService } from './environments/index.js'
import { installedEnvironments, withInstalled, type InstalledEnvironment } from './environments/installed.js'
import { environmentRecords } from './environments/records.js'
import { marketService } from './market/market-service.js'
import { providerSettingsStore } from './market/provider-settings.js'
import { createDockerClient, detectResources, DOCKER_TIMEOUT_MS, type Resources } from './market/resources/index.js'
import { buildOffer, NOTHING_ALLOCATED } from './market/build-offer.js'
import { asIdle, matchOffers } from './market/match.js'
import { providerDiscovery } from './market/provider-discovery.js'
import { jobService } from './jobs/job-service.js'
import { billingService } from './billing/index.js'
import { ownerName, projectLog } from './projects/project-log.js'
import { projectSync } from './projects/sync.js'
import { repairProjects } from './projects/repair.js'
import { providerChannel } from './jobs/provider-channel.js'
import { jobServer } from './provider/job-server.js'
import { tunnelServer } from './provider/tunnel-server.js'
import { workspaceService } from './workspaces/workspace-service.js'
import { openSavedWorkspace } from './workspaces/saved-workspace.js'
import { homeKeeper } from './workspaces/home-keeper.js'
import { servedPorts } from './forwards/served-ports.js'
import { shellSockets } from './api/shell-socket.js'
import { uploadFolders, UPLOAD_TTL_MS } from './api/upload-folders.js'
import { MAX_TUNNEL_MESSAGE_BYTES, TUNNEL_PROTOCOL } from '../protocol/workspaces/tunnel.js'
import { providerJobs, type ProviderJobs } from './provider/provider-jobs.js'
import { nameService } from './datasets/names/name-service.js'
import { nameStore } from './datasets/names/name-store.js'
import { refResolver } from './datasets/names/resolve.js'
import { dagTransferService, entitlement, grantTable } from './transfer/index.js'
import { projectContentAccess } from './projects/content-grants.js'
import { publishing } from './datasets/index.js'
import { publicBlocks, publicOnly } from './store/public-blocks.js'
import { dhtService, directUpgrader, discoveryDialer, freeTcpPort, openPeerStore, p2pHostOptions, peerKeeper, type KeptReason } from './p2p/index.js'
import { isFinal } from '../protocol/jobs/job.js'
import { startBitswap } from './store/bitswap.js'
import { gcGuard } from './store/gc-guard.js'
import { pinSet } from './store/pins.js'
import { repoService } from './store/repo.js'
import { openStores } from './store/stores.js'

/** The built web UI (`vite build` writes it beside the compiled daemon: dist/webui). */
const WEBUI_ROOT = join(import.meta.dirname, '..', 'webui')
/** How long the list of environment images held is reused before Docker is asked again. */
const ENVIRONMENTS_TTL_MS = 5_000
/** How long after a job starts or ends the provider's offer is published again. */
const CAPACITY_ANNOUNCE_DELAY_MS = 200

/** Command-line choices; each one overrides config.json for this run only. */
export interface NodeOptions {
  home: string
  api?: string
  listen?: string[]
  bootstrap?: string[]
  mdns?: boolean
  /** `--dht`: join the DHT for this run, whatever config.json says */
  dht?: boolean
  logLevel?: Config['logLevel']
  /** json: JSON lines on stderr (the default off a terminal); pretty: a human line per event on stdout */
  logFormat?: LogFormat
  /** `--provider`: provider mode on for this run, whatever config.json says */
  provider?: boolean
  /** `--relay`: serve as a circuit relay for this run, whatever config.json says */
  relay?: boolean
}

export interface FloeNode {
  peerId: string
  apiUrl: string
  log: Logger
  /** Idempotent: stops the API, then libp2p, then releases the home. */
  stop(): Promise<void>
}

function withOverrides (config: Config, options: NodeOptions): Config {
  return {
    ...config,
    api: options.api ?? config.api,
    listen: options.listen != null && options.listen.length > 0 ? options.listen : config.listen,
    bootstrap: options.bootstrap != null && options.bootstrap.length > 0 ? options.bootstrap : config.bootstrap,
    mdns: options.mdns ?? config.mdns,
    dht: options.dht ?? config.dht,
    relay: options.relay === true ? { ...config.relay, enabled: true } : config.relay,
    logLevel: options.logLevel ?? config.logLevel
  }
}

/** FLOE_UPLOAD_TTL_MS: a shorter upload TTL, for tests that watch an upload expire. */
function uploadTtlMs (): number {
  const set = Number(process.env.FLOE_UPLOAD_TTL_MS)
  return Number.isSafeInteger(set) && set > 0 ? set : UPLOAD_TTL_MS
}

function describeListenError (err: any, what: string, flag: string): Error {
  if (err?.code === 'EADDRINUSE') return new ConfigError(`${what} is already in use (another daemon with another home?); choose another with ${flag}`)
  if (err?.code === 'EADDRNOTAVAIL') return new ConfigError(`${what} is not an address of this machine; choose another with ${flag}`)
  return err
}

/**
 * The composition root: takes the home, then brings up identity, libp2p and the HTTP API,
 * and publishes the API endpoint for the CLI. On a failure part-way, what was started is
 * stopped again in reverse order.
 */
export async function startNode (options: NodeOptions): Promise<FloeNode> {
  const paths = homePaths(options.home)
  await mkdir(paths.root, { recursive: true, mode: 0o700 })
  const lock = await lockHome(paths.root)
  const undo: Array<() => Promise<void>> = [async () => { await lock.release() }]
  const unwind = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step()
  }
  try {
    const config = withOverrides(await loadConfig(paths.config), options)
    const apiAddress = parseApiAddress(config.api)
    const log = createLogger({ file: paths.daemonLog, level: config.logLevel, format: options.logFormat ?? 'json' })
    const privateKey = await loadOrCreateIdentity(paths.identity)
    const token = await loadOrCreateApiToken(paths.apiToken)

    const stores = await openStores(paths.root)
    undo.push(async () => { await stores.close() })
    const guard = gcGuard()

    const p2pLog = log.child({ component: 'floe:p2p' })
    // the peer store on disk: addresses of peers met, and the ones `floe connect` was told to keep
    const peerStore = await openPeerStore(join(paths.root, 'peers'))
    undo.push(async () => { await peerStore.close() })
    const host = await createLibp2p(p2pHostOptions({
      privateKey,
      listen: config.listen,
      mdns: config.mdns,
      dht: config.dht ? await dhtService() : undefined,
      datastore: peerStore,
      relay: config.relay,
      relayClient: config.relayClient,
      dialPort: config.holePunch ? await freeTcpPort() : undefined,
      upnp: config.upnp
    }))
      .catch(err => { throw describeListenError(err, `a listen address (${config.listen.join(', ')})`, '--listen') })
    undo.push(async () => { await host.stop() })
    // who may fetch what from this node: grants (public datasets, a job's provider, a project's
    // members), a project's entries to its members, a provider's outputs to their client
    const grants = grantTable(stores.index)
    const publicBlockIndex = publicBlocks({ index: stores.index, blockstore: stores.blockstore })
    let projectAccess: ReturnType<typeof projectContentAccess> | undefined
    let provider: ProviderJobs | undefined
    const access = entitlement({
      grants,
      isMember: async (pid, peer) => await projectAccess?.isMember(pid, peer) ?? false,
      sources: [
        async (root, peer) => await projectAccess?.entries(root, peer) ?? false,
        (root, peer) => provider?.servesClient(root.toString(), peer) ?? false
      ]
    })
    const bitswap = await startBitswap({ libp2p: host, blockstore: stores.blockstore, serves: publicOnly(stores.blockstore, publicBlockIndex) })
    undo.push(async () => { await bitswap.stop() })
    host.addEventListener('peer:connect', evt => { p2pLog.info({ event: 'peer.connected', peer: evt.detail.toString() }, 'peer connected') })
    host.addEventListener('peer:disconnect', evt => { p2pLog.info({ peer: evt.detail.toString() }, 'peer disconnected') })
    const dagSender = dagTransferService({ libp2p: host, blockstore: stores.blockstore, access, log: log.child({ component: 'floe:transfer' }) })
    await dagSender.start()
    undo.push(async () => { await dagSender.stop() })
    const distrusted = new Set<string>()
    const dialer = discoveryDialer({ host, lan: host.services.mdns, log: p2pLog })
    dialer.start()
    undo.push(async () => { dialer.stop() })
    // who this node needs connected besides its bootstrap list and `floe connect`s; asked each minute at most
    let wantedCache: { at: number, peers: Promise<Array<{ peerId: string, reason: KeptReason }>> } | undefined
    const wanted = async (): Promise<Array<{ peerId: string, reason: KeptReason }>> => {
      if (wantedCache == null || Date.now() - wantedCache.at > 60_000) {
        wantedCache = { at: Date.now(), peers: wantedPeers().catch((err: Error) => { p2pLog.warn({ err: err.message }, 'could not list the peers to keep'); return [] }) }
      }
      return await wantedCache.peers
    }
    let wantedPeers = async (): Promise<Array<{ peerId: string, reason: KeptReason }>> => []
    const keeper = peerKeeper({ host, bootstrap: config.bootstrap, wanted, log: p2pLog })
    keeper.start()
    undo.push(async () => { keeper.stop() })
    if (host.services.dcutr != null) {
      const upgrader = directUpgrader({ host, punch: host.services.dcutr as unknown as Parameters<typeof directUpgrader>[0]['punch'], log: p2pLog })
      upgrader.start()
      undo.push(async () => { upgrader.stop() })
    }

    const providerSettings = providerSettingsStore({ configPath: paths.config, initial: config.provider, enabledOverride: options.provider === true ? true : undefined })
    let docker: Promise<Docker> | undefined
    const dockerClient = async (): Promise<Docker> => await (docker ??= createDockerClient())
    // environment names map only to what this node's owner installed (published, built, or tagged by hand)
    const envRecords = environmentRecords(stores.index)
    const installed = async (signal?: AbortSignal): Promise<InstalledEnvironment[]> => await installedEnvironments(await dockerClient(), envRecords, { signal })
    // a status check: an engine that does not answer within DOCKER_TIMEOUT_MS is reported absent
    const detect = async (): Promise<Resources> => withInstalled(await detectResources({ home: paths.root, docker: await dockerClient() }), async () => await installed(AbortSignal.timeout(DOCKER_TIMEOUT_MS)))
    const market = marketService({ libp2p: host, privateKey, settings: providerSettings, detect, allocated: () => provider?.allocated() ?? NOTHING_ALLOCATED, log: log.child({ component: 'floe:market' }) })
    await market.start()
    undo.push(async () => { await market.stop() })
    const discovery = config.dht
      ? providerDiscovery({ libp2p: host, providing: () => providerSettings.get().enabled, known: peer => market.book.get(peer) != null, log: log.child({ component: 'floe:market' }) })
      : undefined
    discovery?.start()
    undo.push(async () => { discovery?.stop() })

    const pins = pinSet(stores.index)
    // the one way content comes from peers (bulk protocol unless a caller asks for bitswap)
    const dagSource = { libp2p: host, blockstore: stores.blockstore, bitswap: bitswap.networkStore, distrusted, log: p2pLog }
    const requireDagHere: RequireDag = async (root, opts) => await requireDag(dagSource, root, opts)
    // The images held change rarely (a build, a publish): asked of Docker at most every ENVIRONMENTS_TTL_MS.
    let held: { at: number, environments: Promise<Map<string, string>> } | undefined
    const environments = async (): Promise<Map<string, string>> => {
      if (held == null || Date.now() - held.at > ENVIRONMENTS_TTL_MS) {
        held = { at: Date.now(), environments: installed().then(list => new Map(list.map(e => [e.name, e.id]))) }
      }
      return await held.environments
    }
    // environments: images as content (publish, build, recipes) and, as a provider, those jobs bring
    let imageDocker: Promise<Docker> | undefined
    const imageClient = async (): Promise<Docker> => await (imageDocker ??= createImageClient())
    const envLog = log.child({ component: 'floe:environments' })
    const environmentsChanged = (): void => {
      held = undefined
      market.announce().catch((err: Error) => { envLog.warn({ err: err.message }, 'could not publish the offer') })
    }
    const envs = environmentService({ docker: imageClient, blockstore: stores.blockstore, blocksPath: stores.blocksPath, index: stores.index, pins, guard, home: paths.root, pip: config.pip, onChange: environmentsChanged, log: envLog })
    const envCache = environmentCache({
      docker: imageClient,
      blockstore: stores.blockstore,
      pins,
      guard,
      records: envs.records,
      requireDag: requireDagHere,
      settings: () => providerSettings.get(),
      home: paths.root,
      onChange: environmentsChanged,
      log: envLog
    })
    // what both sides of jobs keep and fetch with: this node's key, its stores and its peers
    const jobBase = { self: host.peerId.toString(), privateKey, blockstore: stores.blockstore, blocksPath: stores.blocksPath, index: stores.index, pins, guard }
    let capacityAnnounce: NodeJS.Timeout | undefined
    undo.push(async () => { clearTimeout(capacityAnnounce) })
    // billing: the ledger, budgets and both sides' meters (daemon/billing)
    const billing = billingService({
      self: host.peerId.toString(),
      privateKey,
      index: stores.index,
      libp2p: host,
      nodeBudget: () => config.billing.budget,
      providerJobs: () => provider?.metered() ?? [],
      providerSettings: () => providerSettings.get(),
      log: log.child({ component: 'floe:billing' })
    })
    provider = providerJobs({
      ...jobBase,
      metering: billing.provider,
      requireDag: requireDagHere,
      docker: dockerClient,
      settings: () => providerSettings.get(),
      currentOffer: async allocated => buildOffer({ peerId: host.peerId.toString(), addrs: [], resources: market.lastResources() ?? await detect(), settings: providerSettings.get(), seq: 1, now: Date.now(), allocated }),
      environments,
      environmentCache: envCache,
      onCapacityChange: () => {
        // jobs starting and ending together make one new offer, not one each
        capacityAnnounce ??= setTimeout(() => {
          capacityAnnounce = undefined
          market.announce().catch((err: Error) => { log.warn({ component: 'floe:market', err: err.message }, 'could not publish the offer') })
        }, CAPACITY_ANNOUNCE_DELAY_MS)
      },
      jobsRoot: join(paths.root, 'provider', 'jobs'),
      inputsRoot: join(paths.root, 'provider', 'inputs'),
      log: log.child({ component: 'floe:provider' })
    })
    await provider.start()
    undo.push(async () => { await provider?.stop() })
    await billing.start()
    undo.push(async () => { await billing.stop() })
    const server = jobServer({ libp2p: host, jobs: provider, log: log.child({ component: 'floe:provider' }) })
    await server.start()
    undo.push(async () => { await server.stop() })

    const projects = projectLog({ self: host.peerId.toString(), privateKey, owner: ownerName(config.owner ?? userInfo().username), index: stores.index, blockstore: stores.blockstore, log: log.child({ component: 'floe:projects' }) })
    projectAccess = projectContentAccess({ projects, grants, log: log.child({ component: 'floe:projects' }) })
    projectAccess.start()
    undo.push(async () => { projectAccess?.stopListening() })
    const sync = projectSync({ libp2p: host, log: projects, index: stores.index, logger: log.child({ component: 'floe:projects' }) })
    await sync.start()
    undo.push(async () => { await sync.stop() })

    // dataset names that travel: signed records of public versions, resolved from their owner or a peer that holds them
    const names = nameService({
      libp2p: host,
      privateKey,
      store: nameStore(stores.index),
      // another owner published it: its content is public by the owner's signed word, so this node may pass it on
      onForeignRecord: async record => { await grants.grant(CID.parse(record.cid), { public: true }, `dsname:${record.owner}/${record.name}:${record.version}`) },
      log: log.child({ component: 'floe:datasets' })
    })
    await names.start()
    undo.push(async () => { await names.stop() })
    const selfOwnerName = ownerName(config.owner ?? userInfo().username)
    const dataRefs = refResolver({
      index: stores.index,
      names,
      knownOwners: async () => [
        { name: selfOwnerName, peer: host.peerId.toString() },
        ...(await projects.list()).map(p => ({ name: p.name.split('/')[0] ?? '', peer: p.ownerPeer }))
      ],
      jobOutput: async ref => {
        try {
          const job = await jobs.show(ref)
          return job.outputCid == null ? null : CID.parse(job.outputCid)
        } catch (err: any) {
          if (err?.name === 'JobNotFoundError' || err?.name === 'ProjectNotFoundError') return undefined
          throw err
        }
      }
    })

    let notifyUrl: string | null = null
    const notifyStop = new AbortController()
    undo.push(async () => { notifyStop.abort() })
    const notify = notifier({ settings: config.notify, apiUrl: () => notifyUrl, signal: notifyStop.signal, log: log.child({ component: 'floe:notify' }) })
    const jobs = jobService({
      ...jobBase,
      onJobEnded: job => { notify.jobEnded(job) },
      requireDag: requireDagHere,
      homes: homeKeeper({ pins, guard, requireDag: requireDagHere, blocksPath: stores.blocksPath, log: log.child({ component: 'floe:workspaces' }) }),
      projects,
      access: {
        grantProvider: async (jobId, peer, roots) => { for (const root of roots) await grants.grant(CID.parse(root), { peer }, `job:${jobId}`) },
        revoke: async jobId => { await grants.revoke(`job:${jobId}`) }
      },
      resolveDataRef: async ref => (await dataRefs.resolve(ref)).cid,
      match: (requirements, opts) => matchOffers(market.book.list().map(e => opts.idle === true ? asIdle(e.offer) : e.offer), requirements, { now: Date.now(), reliability: opts.reliability }),
      knownEnvironments: async () => new Set([...market.book.list().flatMap(e => e.offer.environments), ...await envs.names()]),
      environmentImage: async name => await envs.imageFor(name),
      open: providerChannel({ libp2p: host, addrsOf: peer => market.book.get(peer)?.offer.addrs ?? [], serveLocal: channel => { server.serveLocal(channel) } }),
      billing: { meter: billing.client, budgets: billing.budgets },
      log: log.child({ component: 'floe:jobs' })
    })
    await jobs.start()
    undo.push(async () => { await jobs.stop() })
    wantedPeers = async () => [
      ...(await projects.list()).flatMap(p => Object.keys(p.members).map(peerId => ({ peerId, reason: 'member' as const }))),
      ...(await jobs.list()).flatMap(j => !isFinal(j.state) && j.provider != null ? [{ peerId: j.provider, reason: 'provider' as const }] : [])
    ]

    const tunnels = tunnelServer({ libp2p: host, workspace: (jobId, client) => provider?.workspace(jobId, client), docker: dockerClient, log: log.child({ component: 'floe:provider' }) })
    await tunnels.start()
    undo.push(async () => { await tunnels.stop() })
    const openTunnel = providerChannel({ libp2p: host, addrsOf: peer => market.book.get(peer)?.offer.addrs ?? [], serveLocal: channel => { tunnels.serveLocal(channel, host.peerId.toString()) }, protocol: TUNNEL_PROTOCOL, maxMessageBytes: MAX_TUNNEL_MESSAGE_BYTES })
    const workspaces = workspaceService({
      jobs,
      openSaved: async saved => await openSavedWorkspace({ blockstore: stores.blockstore, requireDag: requireDagHere }, saved),
      openTunnel,
      log: log.child({ component: 'floe:workspaces' }),
      // tests only: what the notebook proxy forwards (to check floe's credentials never reach a notebook)
      ...(process.env.FLOE_TEST_NOTEBOOK_HEADERS != null ? { notebookHeaderLog: process.env.FLOE_TEST_NOTEBOOK_HEADERS } : {})
    })
    undo.push(async () => { await workspaces.stop() })
    const serving = servedPorts({ jobs, openTunnel, log: log.child({ component: 'floe:serve' }) })
    await serving.start()
    undo.push(async () => { serving.stop() })

    const startedAt = new Date()
    let apiUrl = ''
    const datasets = datasetService({
      blockstore: stores.blockstore,
      requireDag: requireDagHere,
      blocksPath: stores.blocksPath,
      index: stores.index,
      guard,
      publishing: publishing({ grants, blocks: publicBlockIndex }),
      names,
      resolver: dataRefs,
      self: host.peerId.toString()
    })
    const sessions = uiSessions()
    const uploads = uploadFolders({ root: join(paths.root, 'uploads'), ttlMs: uploadTtlMs(), log: log.child({ component: 'floe:api' }) })
    await uploads.start()
    undo.push(async () => { uploads.stop() })
    const ui: UiComponents = {
      apiUrl: () => apiUrl,
      sessions,
      blockstore: stores.blockstore,
      requireDag: requireDagHere,
      datasets,
      uploads,
      jobLogs: async (ref, options) => await jobs.logs(ref, options)
    }
    const api = await startApiServer({
      host: apiAddress.host,
      port: apiAddress.port,
      token,
      sessions,
      webuiRoot: WEBUI_ROOT,
      raw: uiRawRoutes(ui),
      onUpgrade: shellSockets({ token, sessions, port: () => Number(new URL(apiUrl).port), tunnel: workspaces.tunnel, log: log.child({ component: 'floe:api' }) }),
      log: log.child({ component: 'floe:api' }),
      handlers: apiHandlers({
        host,
        network: { keeper, relay: config.relay },
        home: paths.root,
        apiUrl: () => apiUrl,
        startedAt,
        datasets,
        repo: repoService({ blockstore: stores.blockstore, blocksPath: stores.blocksPath, sharding: stores.sharding, pins, guard }),
        market,
        providerSettings,
        detectResources: detect,
        served: () => provider?.list() ?? [],
        discovery: { announce: async () => { await discovery?.announce() } },
        jobs,
        projects: {
          projects,
          sync,
          resolveDataRef: async ref => await dataRefs.resolve(ref),
          repairProjects: async opts => await repairProjects({ log: projects, blocksPath: stores.blocksPath, sharding: stores.sharding }, opts)
        },
        ui,
        environments: envs,
        workspaces,
        serving,
        billing
      })
    }).catch(err => { throw describeListenError(err, `the API address ${config.api}`, '--api HOST:PORT') })
    apiUrl = api.url
    notifyUrl = api.url
    undo.push(async () => { await api.stop() })

    const endpoint: ApiEndpoint = { url: api.url, pid: process.pid, peerId: host.peerId.toString(), startedAt: startedAt.toISOString() }
    await writeApiEndpoint(paths.apiEndpoint, endpoint)
    undo.push(async () => { await removeApiEndpoint(paths.apiEndpoint) })

    log.info({ component: 'floe:node', event: 'ready', peerId: endpoint.peerId, api: api.url, listen: host.getMultiaddrs().map(String), home: paths.root }, 'daemon ready')

    let stopping: Promise<void> | undefined
    return {
      peerId: endpoint.peerId,
      apiUrl: api.url,
      log,
      async stop () {
        stopping ??= (async () => {
          log.info({ component: 'floe:node', event: 'stopping' }, 'stopping')
          await unwind()
          log.info({ component: 'floe:node' }, 'stopped')
          log.flush()
        })()
        await stopping
      }
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
