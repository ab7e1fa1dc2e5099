import { isFinal } from '../../protocol/jobs/job.js'
import { concludeJob, type ConcludeJobComponents } from './conclude-job.js'
import { listJobContainers, removeJobContainer } from './executor.js'
import type { JobTable } from './live-job.js'
import type { ProviderJobsComponents } from './provider-jobs.js'
import type { JobRunner } from './run-job.js'

export type ReconcileComponents = ConcludeJobComponents & Pick<ProviderJobsComponents, 'self' | 'docker' | 'settings' | 'log'> & {
  table: Pick<JobTable, 'jobs' | 'records' | 'load'>
  runner: JobRunner
  /** keeps a job's run counted until it ends (stop waits for it) */
  track: (work: Promise<void>) => void
}

/**
 * After a restart: every job in the index is loaded, and each unfinished one resumed —
 * followed again when its container is still there (running or exited), run from the start
 * when it had not reached one, or ended as failed when its container is gone. Containers
 * labelled as this provider's that no job of it owns are removed.
 */
export async function reconcile (components: ReconcileComponents): Promise<void> {
  const { log, table } = components
  for await (const record of table.records.all()) {
    table.jobs.set(record.jobId, await table.load(record))
  }
  // Docker is only asked when there is something to resume or clean up (dockerode costs memory).
  const unfinished = [...table.jobs.values()].some(job => !isFinal(job.record.state))
  const docker = unfinished || components.settings().enabled ? await components.docker().catch(() => undefined) : undefined
  const containers = docker == null ? [] : await listJobContainers(docker, components.self).catch((err: Error) => { log.warn({ err: err.message }, 'could not list job containers'); return [] })
  for (const container of containers) {
    if (table.jobs.get(container.jobId)?.record.containerId === container.id) continue
    log.warn({ container: container.id, jobId: container.jobId }, 'removing a container of this provider that has no running job')
    if (docker != null) await removeJobContainer(docker, container.id)
  }
  for (const job of table.jobs.values()) {
    if (isFinal(job.record.state)) continue
    const has = job.record.containerId != null && containers.some(c => c.id === job.record.containerId)
    if (job.record.containerId != null && !has) {
      log.warn({ jobId: job.record.jobId }, 'the container of a running job is gone')
      job.record.containerId = null
      components.track(concludeJob(components, job, { failure: 'the container was gone when the provider restarted', times: { preparingAt: null, runningAt: null, exitedAt: null }, held: [] }))
      continue
    }
    log.info({ jobId: job.record.jobId, state: job.record.state }, 'resuming a job after a restart')
    components.track(components.runner.run(job, { image: null, resume: has }))
  }
}
