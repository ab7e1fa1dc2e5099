import { detectCpu, type CpuInfo } from './cpu.js'
import { detectDisk, type DiskInfo } from './disk.js'
import { detectDocker, type DockerEngine, type DockerStatus } from './docker.js'
import { detectMemory, type MemoryInfo } from './memory.js'
import { detectGpus, type GpuDetection, type RunCommand } from './nvidia-smi.js'

export { detectCpu, type CpuInfo } from './cpu.js'
export { detectMemory, parseMemAvailable, type MemoryInfo } from './memory.js'
export { detectDisk, type DiskInfo } from './disk.js'
export { createDockerClient, detectDocker, toEnvironments, ENVIRONMENT_LABEL, DOCKER_TIMEOUT_MS, DOCKER_REQUEST_TIMEOUT_MS, type DockerEngine, type DockerStatus, type Environment } from './docker.js'
export { detectGpus, parseNvidiaSmiCsv, parseCudaVersion, runCommand, GPU_QUERY_ARGS, NVIDIA_SMI_TIMEOUT_MS, type GpuDetection, type GpuInfo, type RunCommand } from './nvidia-smi.js'
export { DiskStatError } from './errors.js'

/** What this machine could share, as measured now. Nothing here is estimated or defaulted. */
export interface Resources {
  cpu: CpuInfo
  memory: MemoryInfo
  /** the file system holding the daemon's home */
  disk: DiskInfo
  /** NVIDIA GPUs; `gpu.error` says why there are none when nvidia-smi failed */
  gpu: GpuDetection
  /** the Docker engine and the environments it holds; `available: false` with the reason when it does not answer */
  docker: DockerStatus
}

export interface DetectResourcesOptions {
  /** the daemon's home: its file system's free space is what jobs' inputs and outputs may use */
  home: string
  /** defaults to a dockerode client on the default socket */
  docker?: DockerEngine
  /** runs nvidia-smi; defaults to execFile */
  run?: RunCommand
}

/**
 * Measures everything at once. A missing GPU tool or an absent Docker engine is reported in
 * its part; only a home whose file system cannot be read rejects (DiskStatError).
 */
export async function detectResources (options: DetectResourcesOptions): Promise<Resources> {
  const [memory, disk, gpu, docker] = await Promise.all([
    detectMemory(),
    detectDisk(options.home),
    detectGpus({ run: options.run }),
    detectDocker({ docker: options.docker })
  ])
  return { cpu: detectCpu(), memory, disk, gpu, docker }
}
