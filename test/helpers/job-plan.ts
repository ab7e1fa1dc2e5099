import { randomUUID } from 'node:crypto'
import { chmod, lchown, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type Docker from 'dockerode'
import { listJobContainers, removeJobContainer, type ContainerPlan, type Runtime } from '../../daemon/provider/executor.js'
import { createJobDisk, JOB_OWNER, removeJobDisk } from '../../daemon/provider/job-disk.js'

export const TEST_CLIENT = '12D3KooWTestClient'
export const TEST_PROVIDER = '12D3KooWTestProvider'

/**
 * Container plans as the provider makes them — each on a fresh job disk, its inputs in an
 * input cache folder — and their clean-up (containers, disks, folders) for afterEach.
 */
export function jobPlans (docker: () => Docker) {
  const jobIds = new Set<string>()
  const folders: string[] = []
  const disks: string[] = []
  let inputsRoot: string | undefined

  const tempFolder = async (): Promise<string> => {
    const folder = await mkdtemp(join(tmpdir(), 'floe-executor-'))
    folders.push(folder)
    return folder
  }

  return {
    tempFolder,
    /** a folder in the input cache, readable by the job's user as the cache's entries are */
    async inputFolder (): Promise<string> {
      inputsRoot ??= await tempFolder()
      const input = await mkdtemp(join(inputsRoot, 'input-'))
      await chmod(input, 0o755)
      return input
    },
    /** a plan for `sh -c script` on a fresh job disk (48 MiB, 4,000 inodes unless given) */
    async planFor (script: string, overrides: Partial<ContainerPlan> = {}, disk: { bytes: number, inodes: number } = { bytes: 48 * 1024 * 1024, inodes: 4_000 }): Promise<ContainerPlan> {
      const jobId = `test-${randomUUID()}`
      jobIds.add(jobId)
      inputsRoot ??= await tempFolder()
      const jobRoot = join(await tempFolder(), jobId)
      await mkdir(jobRoot)
      const made = await createJobDisk(jobRoot, disk)
      disks.push(jobRoot)
      await mkdir(made.code)
      await lchown(made.code, JOB_OWNER.uid, JOB_OWNER.gid)
      const runtime: Runtime = process.env.FLOE_TEST_RUNTIME === 'runsc' ? 'runsc' : 'runc'
      return {
        jobId,
        client: TEST_CLIENT,
        provider: TEST_PROVIDER,
        image: 'floe/busybox',
        command: ['sh', '-c', script],
        jobRoot,
        inputsRoot,
        codeDir: made.code,
        outputDir: made.output,
        tmpDir: made.tmp,
        runtime,
        inputs: [],
        cpus: 1,
        memoryBytes: 256 * 1024 * 1024,
        gpus: [],
        network: false,
        ...overrides
      }
    },
    async cleanup (): Promise<void> {
      const mine = (await listJobContainers(docker())).filter(container => jobIds.has(container.jobId))
      await Promise.all(mine.map(async container => { await removeJobContainer(docker(), container.id) }))
      for (const jobRoot of disks.splice(0)) await removeJobDisk(jobRoot)
      inputsRoot = undefined
      await Promise.all(folders.splice(0).map(async folder => { await rm(folder, { recursive: true, force: true }) }))
      jobIds.clear()
    }
  }
}
