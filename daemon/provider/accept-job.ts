import { randomBytes } from 'node:crypto'
import { isFinal } from '../../protocol/jobs/job.js'
import type { RefusalReason } from '../../protocol/jobs/wire.js'
import type { Allocated } from '../market/build-offer.js'
import { admitJob } from './admission.js'
import { canMakeJobDisks } from './job-disk.js'
import type { JobTable, LiveJob } from './live-job.js'
import type { ProviderJobsComponents } from './provider-jobs.js'
import { toBase64, type ProviderJobRecord } from './records.js'

export type Submission =
  | { accepted: true, jobId: string, leaseId: string, pricePerHour: number, gpus: number[] }
  | { accepted: false, reason: RefusalReason, message: string }

export type AcceptJobComponents = Pick<ProviderJobsComponents, 'self' | 'settings' | 'currentOffer' | 'environments' | 'environmentCache' | 'log'> & {
  table: Pick<JobTable, 'jobs' | 'records' | 'load'>
  /** starts the accepted job's run (image: what admission chose to run it in) */
  onAccepted: (job: LiveJob, image: string) => void
}

/** What the jobs this provider runs now take of its capacity (finished ones take none). */
export function allocatedBy (jobs: Iterable<LiveJob>): Allocated {
  const held = [...jobs].filter(job => !isFinal(job.record.state))
  return {
    jobs: held.length,
    cpus: held.reduce((sum, job) => sum + job.spec.resources.cpus, 0),
    memoryBytes: held.reduce((sum, job) => sum + job.spec.resources.memoryBytes, 0),
    gpus: held.flatMap(job => job.record.gpus)
  }
}

/**
 * Admits one signed request (admission.ts decides, against the offer as of now) and, when
 * accepted, records the job with a fresh lease before anything runs: a restart from here on
 * finds it. The caller takes admissions one at a time, so two cannot both take the last slot.
 */
export async function acceptJob (components: AcceptJobComponents, bytes: Uint8Array, signature: Uint8Array, remotePeer: string, options: { metered?: boolean } = {}): Promise<Submission> {
  const { table } = components
  const settings = components.settings()
  if (settings.enabled && !canMakeJobDisks()) {
    return { accepted: false, reason: 'not-allowed', message: 'this provider cannot run jobs safely: its daemon is not root, and jobs need their own user and a size-limited disk' }
  }
  const imageCache = components.environmentCache
  const admission = await admitJob(bytes, signature, {
    self: components.self,
    remotePeer,
    settings,
    offer: await components.currentOffer(allocatedBy(table.jobs.values())),
    environments: await components.environments(),
    imageOf: imageCache == null ? undefined : async spec => await imageCache.plan(spec),
    known: jobId => table.jobs.has(jobId),
    now: Date.now()
  })
  if (!admission.accepted) return admission
  const now = Date.now()
  const record: ProviderJobRecord = {
    jobId: admission.request.jobId,
    leaseId: randomBytes(16).toString('hex'),
    client: remotePeer,
    request: toBase64(bytes),
    signature: toBase64(signature),
    pricePerHour: admission.pricePerHour,
    gpus: admission.gpus,
    acceptedAt: now,
    state: 'queued',
    states: [{ state: 'queued', at: now }],
    containerId: null,
    receipt: null,
    keepUntil: null,
    metered: options.metered === true
  }
  await table.records.put(record)
  const job = await table.load(record)
  table.jobs.set(record.jobId, job)
  components.log.info({ jobId: record.jobId, client: remotePeer, specCid: admission.specCid.toString(), price: admission.pricePerHour, image: admission.image }, 'job accepted')
  components.onAccepted(job, admission.image)
  return { accepted: true, jobId: record.jobId, leaseId: record.leaseId, pricePerHour: record.pricePerHour, gpus: record.gpus }
}
