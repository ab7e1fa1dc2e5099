import { lchown, mkdir } from 'node:fs/promises'
import type { ProviderJobsComponents } from './provider-jobs.js'
import { exportDag } from '../content/index.js'
import { jobBudgets } from './job-budgets.js'
import { createJobDisk, JOB_OWNER } from './job-disk.js'
import { inputRoots, pinInputs } from './input-pins.js'
import { systemLine, type JobTable, type LiveJob } from './live-job.js'

export type PrepareJobComponents = Pick<ProviderJobsComponents, 'blockstore' | 'pins' | 'guard' | 'requireDag' | 'settings'> & {
  table: Pick<JobTable, 'dir'>
}

/**
 * Fetches the job's code, inputs and home, makes its disk, and writes its code (and home)
 * into it for the job's user. Every write is bounded by the job's budgets (declared sizes
 * before, bytes written while), and no link in the content is ever followed. The inputs are
 * pinned first, and stay pinned until the job is concluded (conclude-job.ts unpins them).
 */
export async function prepareJob (components: PrepareJobComponents, job: LiveJob, signal: AbortSignal): Promise<void> {
  const { jobId } = job.record
  await pinInputs(components, jobId, job.spec)
  for (const root of inputRoots(job.spec)) {
    const fetched = await components.requireDag(root, { signal })
    if (fetched.via === 'bulk') systemLine(job, `fetched ${root} (${fetched.bytes} bytes) from ${fetched.peer ?? 'a peer'} in ${fetched.ms} ms`)
  }
  const limits = jobBudgets(components.settings())
  const disk = await createJobDisk(components.table.dir(jobId), limits.disk)
  await exportDag(components.blockstore, job.spec.code, disk.code, { signal, budget: limits.code, owner: JOB_OWNER })
  if (job.spec.workspace == null) return
  const home = job.spec.workspace.home ?? null
  if (home != null) {
    await exportDag(components.blockstore, home, disk.home, { signal, budget: limits.output, owner: JOB_OWNER })
    systemLine(job, `home restored from ${home.toString()}`)
  } else {
    // a new workspace: an empty home, the job's user's
    await mkdir(disk.home)
    await lchown(disk.home, JOB_OWNER.uid, JOB_OWNER.gid)
  }
}
