import { isFinal } from '../../protocol/jobs/job.js'
import type { JobView } from '../../protocol/jobs/view.js'
import type { JobService } from '../jobs/job-service.js'
import type { Logger } from '../log.js'
import { portForwards, type Forward, type PortForwardsComponents } from './port-forwards.js'

/** How often served jobs are checked: a forward opens this long at most after its job runs. */
const SERVE_SWEEP_MS = 500

export interface ServedPortsComponents extends PortForwardsComponents {
  jobs: Pick<JobService, 'show' | 'list'>
  log: Logger
}

/**
 * Serve mode, the client's side (`floe run --serve PORT`): while a job of this node's whose
 * spec serves ports runs, each of those ports has a local listener on FORWARD_HOST relayed to
 * it through the job's provider (port-forwards.ts); when the job ends, its listeners close.
 * The provider lets only this node, and only to those ports, through (tunnel-server.ts).
 */
export function servedPorts (components: ServedPortsComponents) {
  const ports = portForwards(components)
  /** refs of served jobs not yet ended */
  const watched = new Set<string>()
  /** forwards being opened: a sweep does not open the same one twice */
  const opening = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const target = (job: JobView): { ref: string, jobId: string, provider: string } => ({ ref: job.ref, jobId: job.jobId, provider: job.provider as string })
  const running = async (ref: string): Promise<JobView> => {
    const job = await components.jobs.show(ref)
    if (job.state !== 'running' || job.provider == null) throw new Error(`job ${ref} is ${job.state}, not running`)
    return job
  }

  const check = async (ref: string): Promise<void> => {
    const job = await components.jobs.show(ref)
    if (isFinal(job.state) || job.spec.serve == null) {
      ports.closeRef(ref)
      watched.delete(ref)
      return
    }
    if (job.state !== 'running' || job.provider == null) return
    const open = new Set(ports.list('serve').filter(forward => forward.ref === ref).map(forward => forward.remote))
    for (const port of job.spec.serve) {
      const key = `${ref}:${port}`
      if (open.has(port) || opening.has(key)) continue
      opening.add(key)
      try {
        const forward = await ports.forward(ref, 'serve', async () => target(await running(ref)), port)
        components.log.info(forward, 'serving a job\'s port')
      } finally {
        opening.delete(key)
      }
    }
  }

  const sweep = async (): Promise<void> => {
    for (const ref of [...watched]) {
      await check(ref).catch((err: Error) => { components.log.debug({ ref, err: err.message }, 'could not forward a served job\'s port') })
    }
  }

  return {
    /** Forwards `job`'s served ports while it runs (a job that serves none: nothing). */
    watch (job: JobView): void {
      if (job.spec.serve == null || isFinal(job.state)) return
      watched.add(job.ref)
      void sweep()
    },

    /** the local ports of served jobs, open now */
    list (): Forward[] {
      return ports.list('serve')
    },

    async start (): Promise<void> {
      if (timer != null) return
      // jobs submitted before a restart of this daemon, still running
      for (const job of await components.jobs.list()) this.watch(job)
      timer = setInterval(() => { void sweep() }, SERVE_SWEEP_MS)
      timer.unref()
    },

    stop (): void {
      if (timer != null) clearInterval(timer)
      timer = undefined
      ports.stop()
    }
  }
}

export type ServedPorts = ReturnType<typeof servedPorts>
