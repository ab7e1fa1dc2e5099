import type Docker from 'dockerode'
import { isFinal } from '../../protocol/jobs/job.js'
import { GiB } from '../../protocol/units.js'
import type { MeteredProviderJob } from '../billing/provider-meter.js'
import { dockerTimeToMs } from './docker-time.js'
import { systemLine, wake, type LiveJob } from './live-job.js'

/**
 * A live job as the meter sees it (daemon/billing/provider-meter.ts): its terms, when it
 * began running, and the few things the meter does to it — publish a statement to its
 * followers, pause or resume its container, stop it with a reason.
 */
export function meteredJob (job: LiveJob, docker: () => Promise<Docker>): MeteredProviderJob {
  const running = job.record.state === 'running' && !isFinal(job.record.state)
  const container = async () => {
    if (job.record.containerId == null) throw new Error('the job has no container')
    return (await docker()).getContainer(job.record.containerId)
  }
  return {
    jobId: job.record.jobId,
    leaseId: job.record.leaseId,
    client: job.record.client,
    pricePerHour: job.record.pricePerHour,
    cpus: job.spec.resources.cpus,
    memoryGiB: job.spec.resources.memoryBytes / GiB,
    gpus: job.record.gpus.length,
    async started () {
      if (!running || job.record.containerId == null) return null
      // running when the engine answers means running when it was asked
      const seenAt = Date.now()
      const info = await (await container()).inspect()
      const since = dockerTimeToMs(info.State.StartedAt)
      if (since === 0 || !info.State.Running) return null
      return { since, seenAt }
    },
    publish (signed) {
      job.usage = signed
      wake(job)
    },
    async pause (why) {
      systemLine(job, why)
      await (await container()).pause()
    },
    async resume (why) {
      await (await container()).unpause()
      systemLine(job, why)
    },
    stop (reason) {
      systemLine(job, reason)
      job.stopReason = reason
      // a paused container cannot take SIGTERM: thawed first, then stopped as the client's stop is
      void container().then(async c => await c.unpause()).catch(() => {}).finally(() => { job.cancel.abort(new Error(reason)) })
    }
  }
}
