import { mkdir } from 'node:fs/promises'
import type { PrivateKey } from '@libp2p/interface'
import type Docker from 'dockerode'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { Offer } from '../../protocol/market/offer.js'
import type { ProviderSettings } from '../../protocol/market/settings.js'
import { isFinal } from '../../protocol/jobs/job.js'
import type { ServedJob } from '../../protocol/jobs/view.js'
import type { RequireDag } from '../content/require-dag.js'
import type { EnvironmentCache } from '../environments/environment-cache.js'
import type { Logger } from '../log.js'
import type { Allocated } from '../market/build-offer.js'
import type { GcGuard } from '../store/gc-guard.js'
import type { PinSet } from '../store/pins.js'
import { takeTurns } from '../turns.js'
import { acceptJob, allocatedBy, type Submission } from './accept-job.js'
import { followHandle, type FollowHandle } from './follow-handle.js'
import { inputCache } from './input-cache.js'
import { servedJobs, servesClient } from './job-views.js'
import { jobTable, systemLine } from './live-job.js'
import { pickup } from './pickup.js'
import { reconcile } from './reconcile.js'
import type { providerJobRecords } from './records.js'
import { jobRunner } from './run-job.js'
import { servedAccess, workspaceAccess } from './workspace-watch.js'
import { meteredJob } from './metered-job.js'
import type { SignedDoc } from '../../protocol/billing/metering.js'
import type { MeteredProviderJob, ProviderMeter } from '../billing/provider-meter.js'

export type { FollowHandle } from './follow-handle.js'
export type { Submission } from './accept-job.js'

export interface ProviderJobsComponents {
  self: string
  privateKey: PrivateKey
  docker: () => Promise<Docker>
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  index: Parameters<typeof providerJobRecords>[0]
  pins: PinSet
  guard: GcGuard
  /** makes a DAG whole locally, from the client or any connected peer */
  requireDag: RequireDag
  settings: () => ProviderSettings
  /** this provider's offer as of now, with `allocated` taken off */
  currentOffer: (allocated: Allocated) => Promise<Offer>
  /** environment name → image, for those held */
  environments: () => Promise<Map<string, string>>
  /** images jobs bring (spec.image): whether one may come, and fetching and loading it */
  environmentCache?: Pick<EnvironmentCache, 'plan' | 'prepare'>
  /** called when jobs start or end, so the offer follows */
  onCapacityChange: () => void
  /** folders: per-job work (code and output copies, log) and the shared input cache */
  jobsRoot: string
  inputsRoot: string
  /** metering (daemon/billing/provider-meter.ts): counts the vouchers of metered jobs */
  metering?: Pick<ProviderMeter, 'voucher'>
  log: Logger
}

/**
 * The provider side of jobs: admits signed requests (accept-job.ts), runs each accepted job
 * (run-job.ts: prepare-job.ts → container → conclude-job.ts, with workspace-watch.ts for a
 * workspace), tells attached clients what happens (follow-handle.ts), and keeps every job's
 * record in the index so a restarted daemon finds its containers by label and resumes them
 * (reconcile.ts). A job does not depend on its client staying: its output stays pinned for
 * `keepOutputSeconds` after it ends, for pickup, then is cleaned up (pickup.ts). This file
 * only wires those together and answers for the jobs it holds.
 */
export function providerJobs (components: ProviderJobsComponents) {
  const { log } = components
  const table = jobTable(components)
  const inputs = inputCache(components.inputsRoot, components.blockstore, { maxBytes: () => components.settings().maxInputCacheBytes, maxEntries: () => components.settings().maxJobFiles, log })
  const expiry = pickup({ ...components, table })
  /** runs in flight: stop waits for them (they detach from their containers, which run on) */
  const running = new Set<Promise<void>>()
  const track = (work: Promise<void>): void => {
    running.add(work)
    void work.finally(() => { running.delete(work) })
  }
  const admitting = takeTurns()
  let life = new AbortController()
  let started = false
  const parts = { ...components, table, inputs, pickup: expiry, life: () => life.signal }
  const runner = jobRunner(parts)

  /** the job `jobId` when `client` is its client */
  const clientJob = (jobId: string, client: string) => {
    const job = table.jobs.get(jobId)
    return job != null && job.record.client === client ? job : undefined
  }

  return {
    async submit (bytes: Uint8Array, signature: Uint8Array, remotePeer: string, options: { metered?: boolean } = {}): Promise<Submission> {
      // One admission at a time: two requests must not both take the last free slot.
      return await admitting(async () => await acceptJob({
        ...components,
        table,
        onAccepted: (job, image) => {
          track(runner.run(job, { image, resume: false }))
          components.onCapacityChange()
        }
      }, bytes, signature, remotePeer, { metered: options.metered === true && remotePeer !== components.self }))
    },
    /** metered jobs held now, as the meter sees them (daemon/billing/provider-meter.ts) */
    metered: (): MeteredProviderJob[] => [...table.jobs.values()].filter(job => job.record.metered === true && !isFinal(job.record.state)).map(job => meteredJob(job, components.docker)),
    /**
     * A voucher from `client` for `jobId`: checked and counted by the meter (a voucher for a
     * job this client has not here is refused as for another job). Resolves true when it
     * is the client's final one.
     */
    async voucher (jobId: string, client: string, signed: SignedDoc): Promise<boolean> {
      const job = clientJob(jobId, client)
      if (components.metering == null) return false
      const handle = job != null && job.record.metered === true ? meteredJob(job, components.docker) : { jobId, leaseId: '(none)', client }
      const check = await components.metering.voucher(handle, signed)
      if (check.ok && check.voucher.final && job != null) {
        job.finalVoucher?.resolve()
        job.finalVoucher = { promise: Promise.resolve(), resolve: () => {} }
      }
      return check.ok && check.voucher.final
    },
    allocated: (): Allocated => allocatedBy(table.jobs.values()),
    /** A client's view of its job (follow-handle.ts); undefined when the peer has no such job here. */
    follow (jobId: string, client: string): FollowHandle | undefined {
      const job = clientJob(jobId, client)
      return job == null ? undefined : followHandle(job)
    },
    /**
     * A running workspace of this client's, for a terminal or a forwarded port, or a running
     * batch job of this client's that serves ports, for a forward to those (workspace-watch.ts).
     */
    workspace (jobId: string, client: string): ReturnType<typeof workspaceAccess> {
      const job = clientJob(jobId, client)
      return job == null ? undefined : workspaceAccess(job) ?? servedAccess(job)
    },
    cancel (jobId: string, client: string): boolean {
      const job = clientJob(jobId, client)
      if (job == null) return false
      if (!isFinal(job.record.state)) {
        systemLine(job, 'stopped by the client')
        job.cancel.abort(new Error('stopped by the client'))
      }
      return true
    },
    /** A client's "save home now" for its running workspace (workspace-watch.ts): null when it will be done, else why not. */
    saveHome (jobId: string, client: string): string | null {
      const job = clientJob(jobId, client)
      if (job == null) return `no job ${jobId} of yours here`
      if (job.spec.workspace == null) return 'only a workspace has a home to save'
      if (job.saveHome == null) return `the workspace is ${job.record.state}, not running: a stopped one saved its home as its output`
      return job.saveHome()
    },
    /** Whether `peer` may fetch `root` from here as the client of a job (job-views.ts). */
    servesClient: (root: string, peer: string): boolean => servesClient(table.jobs.values(), root, peer),
    /** jobs this provider holds (running, or finished and kept for pickup), newest first */
    list: (): ServedJob[] => servedJobs(table.jobs.values()),
    async start (): Promise<void> {
      if (started) return
      started = true
      life = new AbortController()
      await mkdir(components.jobsRoot, { recursive: true })
      await mkdir(components.inputsRoot, { recursive: true })
      await reconcile({ ...parts, runner, track })
      await expiry.start()
    },
    /**
     * Stops following jobs without stopping them: their containers keep running, and the
     * next start resumes them.
     */
    async stop (): Promise<void> {
      if (life.signal.aborted) return
      life.abort(new Error('the daemon is stopping'))
      started = false
      expiry.stop()
      await Promise.all([...running])
      for (const job of table.jobs.values()) await job.log.close()
    }
  }
}

export type ProviderJobs = ReturnType<typeof providerJobs>
