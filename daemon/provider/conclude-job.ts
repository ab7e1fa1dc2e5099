import { CID } from 'multiformats/cid'
import { encodeReceipt, RECEIPT_SIGNING_DOMAIN, type Receipt, type SignedReceipt } from '../../protocol/jobs/receipt.js'
import { importPath } from '../content/index.js'
import type { EnvironmentFetch } from '../environments/environment-cache.js'
import { signRecord } from '../p2p/signing.js'
import { pinReasons } from '../store/pin-reasons.js'
import { syncBlocks } from '../store/stores.js'
import { removeJobContainer, type ContainerOutcome } from './executor.js'
import { failureHint } from './failure-hints.js'
import { importJobFolder } from './import-job-folder.js'
import { saveWorkspace } from './workspace-save.js'
import type { inputCache } from './input-cache.js'
import { unpinInputs } from './input-pins.js'
import { removeJobDisk, jobDiskPaths } from './job-disk.js'
import { endReason, endState, jobReceipt } from './job-receipt.js'
import { systemLine, type JobTable, type LiveJob, type PhaseTimes } from './live-job.js'
import type { Pickup } from './pickup.js'
import type { ProviderJobsComponents } from './provider-jobs.js'
import { toBase64 } from './records.js'

export type ConcludeJobComponents = Pick<ProviderJobsComponents, 'blockstore' | 'blocksPath' | 'guard' | 'settings' | 'self' | 'privateKey' | 'docker' | 'pins' | 'onCapacityChange' | 'log'> & {
  table: Pick<JobTable, 'dir' | 'setState'>
  inputs: Pick<ReturnType<typeof inputCache>, 'release' | 'evict'>
  pickup: Pick<Pickup, 'expireAt'>
}

/** How a job ended, as the run saw it. */
export interface Ending {
  /** how its container ended (none: it never ran to an end in one) */
  outcome?: ContainerOutcome
  /** why it failed before it ended in its container (null: it did not) */
  failure: string | null
  times: PhaseTimes
  /** inputs held in the cache for this job, released here */
  held: CID[]
  /** the environment fetched and loaded for it, when it brought one this provider lacked */
  environment?: EnvironmentFetch
}

/**
 * Ends a job however it went: its output (when it ran) and log imported and pinned for
 * pickup, a signed receipt, then the container, the job's disk, its inputs' pins, its last
 * saved home's pin and its hold on cached inputs let go. What it pinned is unpinned here or
 * at pickup time (pickup.ts): nothing of a job outlives it.
 */
export async function concludeJob (components: ConcludeJobComponents, job: LiveJob, ended: Ending): Promise<void> {
  const { log } = components
  const { outcome, failure, times, held } = ended
  const { jobId } = job.record
  const disk = jobDiskPaths(components.table.dir(jobId))
  let state: Receipt['state'] = outcome != null ? endState(outcome) : job.cancel.signal.aborted ? 'stopped' : 'failed'
  let reason = failure ?? job.stopReason ?? (outcome != null ? endReason(outcome) : 'stopped before it ran')
  if (state === 'failed') {
    const hint = await hintOf(job, outcome, failure).catch(() => null)
    if (hint != null) reason = `${hint} (${reason ?? 'failed'})`
  }
  if (reason != null) systemLine(job, reason)
  await components.table.setState(job, 'uploading')
  let output: { cid: CID, bytes: number } | null = null
  let logs: CID | null = null
  // a workspace's output is its home and /code (workspace-save.ts), saved however it ended
  if (outcome != null || job.spec.workspace != null) {
    try {
      const imported = job.spec.workspace != null ? await saveWorkspace(components, { home: disk.home, code: disk.code }) : await importJobFolder(components, disk.output)
      output = { cid: imported.cid, bytes: imported.bytes }
    } catch (err: any) {
      const why = err?.name === 'ContentTooLargeError'
        ? `${err.message as string}: past the provider's max-output of ${components.settings().maxOutputBytes} bytes, nothing was imported`
        : `could not import the output: ${err?.message ?? err}`
      log.warn({ jobId, err: err?.message }, 'could not import the output')
      systemLine(job, why)
      state = 'failed'
      reason = why
    }
  }
  try {
    logs = await uploadLog(components, job, output)
  } catch (err: any) {
    log.error({ jobId, err: err?.message }, 'could not import the log')
  }
  await unpinInputs(components, jobId, job.spec)
  await finish(components, job, jobReceipt(job, { provider: components.self, state, reason, outcome, times, environment: ended.environment, output, logs }))
  // Off the client's path: the container and the job's copies are not needed any more.
  if (job.record.containerId != null) {
    await removeJobContainer(await components.docker(), job.record.containerId).catch((err: Error) => { log.warn({ jobId, err: err.message }, 'could not remove the container') })
  }
  await removeJobDisk(components.table.dir(jobId)).catch((err: Error) => { log.warn({ jobId, err: err.message }, 'could not remove the job disk') })
  // the last periodic save of a workspace's home: its final home is the output, pinned above
  if (job.record.snapshot != null) await pinReasons.workspaceSnapshot(jobId).remove(components.pins, CID.parse(job.record.snapshot))
  for (const cid of held) components.inputs.release(cid)
  await components.inputs.evict().catch((err: Error) => { log.warn({ err: err.message }, 'could not trim the input cache') })
}

/** A cause floe knows for a failed job (failure-hints.ts), from its last lines of output. */
async function hintOf (job: LiveJob, outcome: ContainerOutcome | undefined, failure: string | null): Promise<string | null> {
  const last = job.log.lastSeq()
  const lines = (await job.log.read(Math.max(0, last - 40), 40, 64 * 1024)).filter(line => line.stream !== 'system').map(line => line.line)
  return failureHint({ command: job.spec.command, environment: job.spec.environment, network: job.spec.network, exitCode: outcome?.exitCode ?? null, failure, lines })
}

/** Imports the job's log, and pins it and the output (already imported) for pickup. */
async function uploadLog (components: ConcludeJobComponents, job: LiveJob, output: { cid: CID } | null): Promise<CID | null> {
  return await components.guard.shared(async () => {
    const kept = pinReasons.jobOutput(job.record.jobId)
    await job.log.close()
    let logs: CID | null = null
    if (job.log.lastSeq() > 0) logs = (await importPath(components.blockstore, job.log.path)).cid
    await syncBlocks(components.blocksPath)
    if (output != null) await kept.add(components.pins, output.cid)
    if (logs != null) await kept.add(components.pins, logs)
    return logs
  })
}

/** Signs the receipt, records it with the job's pickup time, and tells followers the end. */
async function finish (components: ConcludeJobComponents, job: LiveJob, receipt: Receipt): Promise<void> {
  const payload = encodeReceipt(receipt)
  const signed: SignedReceipt = { payload, signature: await signRecord(components.privateKey, RECEIPT_SIGNING_DOMAIN, payload) }
  job.receipt = signed
  job.record.receipt = { payload: toBase64(payload), signature: toBase64(signed.signature) }
  job.record.keepUntil = Date.now() + components.settings().keepOutputSeconds * 1000
  components.pickup.expireAt(job.record.keepUntil)
  await components.table.setState(job, receipt.state, receipt.reason ?? undefined)
  components.log.info({ jobId: job.record.jobId, state: receipt.state, exitCode: receipt.exitCode, output: receipt.outputCid?.toString(), cost: receipt.cost }, 'job finished')
  components.onCapacityChange()
}
