import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectGpus, GPU_QUERY_ARGS, parseCudaVersion, parseNvidiaSmiCsv, runCommand, type RunCommand } from '../../../../../daemon/market/resources/index.js'

const MiB = 1024 * 1024

// Output of `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,driver_version --format=csv,noheader,nounits`
// in the shape real machines print it.
const H100 = '0, GPU-5f2e8c1a-3b7d-4e6f-9a0b-1c2d3e4f5a6b, NVIDIA H100 80GB HBM3, 81559, 0, 550.54.15\n'
const A100_40 = '0, GPU-1d8b3f4e-77a2-c3e9-5b1f-0a9c8d7e6f51, NVIDIA A100-SXM4-40GB, 40960, 4, 535.161.08\n'
const RTX_4090 = '0, GPU-9c2a7e61-0f3b-84d5-2e6a-b71c4d9f0e38, NVIDIA GeForce RTX 4090, 24564, 1183, 545.29.06\n'
const T4 = '0, GPU-0e4b6a2c-5d1f-7a93-8c0e-3f2b1a9d8c7e, Tesla T4, 15360, 0, 470.223.02\n'
const EIGHT_A100 = Array.from({ length: 8 }, (_, i) =>
  `${i}, GPU-a100000${i}-6c1e-2b7d-9f4a-8e3d2c1b0a9${i}, NVIDIA A100-SXM4-80GB, 81920, ${i === 3 ? 40221 : 0}, 535.129.03`).join('\n') + '\n'
const WINDOWS = '0, GPU-3c8f1a2b-4d5e-6f70-8192-a3b4c5d6e7f8, NVIDIA GeForce RTX 3060, 12288, 512, 551.86\r\n'
const NOT_AVAILABLE = '0, GPU-7b2d9e4f-1a3c-5e7b-9d1f-3a5c7e9b1d3f, NVIDIA H100 80GB HBM3, [N/A], [N/A], [N/A]\n' +
  '1, GPU-2c4e6a8b-0d2f-4a6c-8e0a-2c4e6a8b0d2f, GRID A100D-40C, 40960, [Not Supported], 535.154.05\n'
const DRIVER_ERROR = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n"

// The banner of plain `nvidia-smi`, across driver generations, and the other outputs that carry the CUDA version.
const BANNER_550 = `Tue Mar 12 10:41:07 2024
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:18:00.0 Off |                    0 |
| N/A   31C    P0             70W /  700W |       0MiB /  81559MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
`
const BANNER_450 = `+-----------------------------------------------------------------------------+
| NVIDIA-SMI 450.51       Driver Version: 450.51       CUDA Version: 11.0     |
|-------------------------------+----------------------+----------------------+
`
const BANNER_610 = `+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 610.43.02              KMD Version: 610.43.02     CUDA UMD Version: 13.3     |
+-----------------------------------------+------------------------+----------------------+
`
const BANNER_NO_CUDA = `+-----------------------------------------------------------------------------+
| NVIDIA-SMI 418.92       Driver Version: 418.92       CUDA Version: N/A      |
`
const BANNER_331 = `+------------------------------------------------------+
| NVIDIA-SMI 331.62     Driver Version: 331.62         |
+-------------------------------+----------------------+
`
const QUERY_LOG = `==============NVSMI LOG==============

Timestamp                                 : Sat Oct 10 17:02:53 2020
Driver Version                            : 450.66
CUDA Version                              : 11.0
`
const VERSION_OUTPUT = `NVIDIA-SMI version  : 560.35.03
NVML version        : 560.35
DRIVER version      : 560.35.03
CUDA Version        : 12.6
`

/** A stand-in for nvidia-smi: the GPU query answers `csv`, the plain call answers `banner`. */
function fakeSmi (csv: string, banner = BANNER_550): RunCommand & { calls: string[][] } {
  const calls: string[][] = []
  const run = async (file: string, args: string[]) => {
    calls.push([file, ...args])
    return args.length === 0 ? banner : csv
  }
  return Object.assign(run, { calls })
}

function execError (code: number | string, stdout = '', stderr = ''): Error {
  return Object.assign(new Error(`Command failed: nvidia-smi\n${stderr}`), { code, stdout, stderr })
}

describe('parseNvidiaSmiCsv', () => {
  it('reads an H100, converting MiB to bytes', () => {
    expect(parseNvidiaSmiCsv(H100)).toEqual({
      gpus: [{
        index: 0,
        uuid: 'GPU-5f2e8c1a-3b7d-4e6f-9a0b-1c2d3e4f5a6b',
        model: 'NVIDIA H100 80GB HBM3',
        memoryBytes: 81559 * MiB,
        memoryUsedBytes: 0,
        driverVersion: '550.54.15'
      }],
      errors: []
    })
  })

  it.each([
    ['A100 40GB', A100_40, 'NVIDIA A100-SXM4-40GB', 40960, 4, '535.161.08'],
    ['RTX 4090', RTX_4090, 'NVIDIA GeForce RTX 4090', 24564, 1183, '545.29.06'],
    ['Tesla T4', T4, 'Tesla T4', 15360, 0, '470.223.02'],
    ['Windows line ends', WINDOWS, 'NVIDIA GeForce RTX 3060', 12288, 512, '551.86']
  ])('reads a %s', (_, csv, model, totalMiB, usedMiB, driver) => {
    const { gpus, errors } = parseNvidiaSmiCsv(csv)
    expect(errors).toEqual([])
    expect(gpus).toHaveLength(1)
    expect(gpus[0]).toMatchObject({ index: 0, model, memoryBytes: totalMiB * MiB, memoryUsedBytes: usedMiB * MiB, driverVersion: driver })
  })

  it('reads all eight GPUs of a multi-GPU box in order', () => {
    const { gpus, errors } = parseNvidiaSmiCsv(EIGHT_A100)
    expect(errors).toEqual([])
    expect(gpus.map(gpu => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(new Set(gpus.map(gpu => gpu.uuid)).size).toBe(8)
    expect(gpus.every(gpu => gpu.model === 'NVIDIA A100-SXM4-80GB' && gpu.memoryBytes === 81920 * MiB)).toBe(true)
    expect(gpus[3]?.memoryUsedBytes).toBe(40221 * MiB)
  })

  it('gives null, never a number, for "[N/A]" and "[Not Supported]" fields', () => {
    const { gpus, errors } = parseNvidiaSmiCsv(NOT_AVAILABLE)
    expect(errors).toEqual([])
    expect(gpus[0]).toMatchObject({ memoryBytes: null, memoryUsedBytes: null, driverVersion: null })
    expect(gpus[1]).toMatchObject({ model: 'GRID A100D-40C', memoryBytes: 40960 * MiB, memoryUsedBytes: null, driverVersion: '535.154.05' })
  })

  it('finds no GPU in empty output or "No devices were found"', () => {
    expect(parseNvidiaSmiCsv('')).toEqual({ gpus: [], errors: [] })
    expect(parseNvidiaSmiCsv('\n\n')).toEqual({ gpus: [], errors: [] })
    expect(parseNvidiaSmiCsv('No devices were found\n')).toEqual({ gpus: [], errors: [] })
  })

  it('skips garbage lines, naming each, and keeps the good ones', () => {
    const text = [
      H100.trim(),
      'this is not csv',
      'x, GPU-0000, NVIDIA H100, 81559, 0, 550.54.15',
      '1, not-a-uuid, NVIDIA H100, 81559, 0, 550.54.15',
      '2, GPU-aaaa-bbbb, NVIDIA H100, 80 GiB, 0, 550.54.15',
      '3, GPU-cccc-dddd, [N/A], 81559, 0, 550.54.15',
      '4, GPU-eeee-ffff, NVIDIA H100, 81559, 0',
      '0, GPU-5f2e8c1a-3b7d-4e6f-9a0b-1c2d3e4f5a6b, NVIDIA H100 80GB HBM3, 81559, 0, 550.54.15',
      "Field \"cuda_version\" is not a valid field to query."
    ].join('\n')
    const { gpus, errors } = parseNvidiaSmiCsv(text)
    expect(gpus.map(gpu => gpu.uuid)).toEqual(['GPU-5f2e8c1a-3b7d-4e6f-9a0b-1c2d3e4f5a6b'])
    expect(errors).toHaveLength(8)
    expect(errors[0]).toBe('line 2 "this is not csv": expected 6 comma-separated fields (index, uuid, name, memory.total, memory.used, driver_version), got 1')
    expect(errors[1]).toContain('index "x" is not a number')
    expect(errors[2]).toContain('uuid "not-a-uuid" is not a GPU UUID')
    expect(errors[3]).toContain('memory.total "80 GiB" is not a number of MiB')
    expect(errors[4]).toContain('no GPU name')
    expect(errors[5]).toContain('got 5')
    expect(errors[6]).toContain('repeats GPU')
  })
})

describe('parseCudaVersion', () => {
  it.each([
    ['the R550 banner', BANNER_550, '12.4'],
    ['the R450 banner', BANNER_450, '11.0'],
    ['the R610 banner ("CUDA UMD Version")', BANNER_610, '13.3'],
    ['nvidia-smi -q', QUERY_LOG, '11.0'],
    ['nvidia-smi --version', VERSION_OUTPUT, '12.6'],
    ['a one-line header', '| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |', '12.4'],
    ['a three-part version', 'CUDA Version: 12.4.1', '12.4.1']
  ])('reads %s', (_, text, version) => {
    expect(parseCudaVersion(text)).toBe(version)
  })

  it.each([
    ['"CUDA Version: N/A"', BANNER_NO_CUDA],
    ['a banner from before CUDA was shown', BANNER_331],
    ['empty output', ''],
    ['the driver error', DRIVER_ERROR]
  ])('gives null for %s', (_, text) => {
    expect(parseCudaVersion(text)).toBeNull()
  })
})

describe('detectGpus', () => {
  it('asks nvidia-smi for the query fields and the banner, and joins them', async () => {
    const run = fakeSmi(EIGHT_A100 + '\n', BANNER_550)
    const result = await detectGpus({ run })
    expect(result.error).toBeUndefined()
    expect(result.gpus).toHaveLength(8)
    expect(result.gpus.every(gpu => gpu.cudaVersion === '12.4' && gpu.driverVersion === '535.129.03')).toBe(true)
    expect(run.calls).toContainEqual(['nvidia-smi', ...GPU_QUERY_ARGS])
    expect(GPU_QUERY_ARGS).toEqual(['--query-gpu=index,uuid,name,memory.total,memory.used,driver_version', '--format=csv,noheader,nounits'])
  })

  it('reports no GPUs and no error where nvidia-smi is not installed', async () => {
    const run: RunCommand = async () => { throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }) }
    expect(await detectGpus({ run })).toEqual({ gpus: [] })
  })

  it('reports the driver failure line when nvidia-smi cannot reach the driver', async () => {
    const run: RunCommand = async () => { throw execError(9, DRIVER_ERROR) }
    expect(await detectGpus({ run })).toEqual({
      gpus: [],
      error: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
    })
  })

  it('reports no GPUs and no error when nvidia-smi finds no devices', async () => {
    const run: RunCommand = async () => { throw execError(6, 'No devices were found\n') }
    expect(await detectGpus({ run })).toEqual({ gpus: [] })
  })

  it('keeps the GPUs, notes the skipped lines, never makes one up', async () => {
    const result = await detectGpus({ run: fakeSmi(RTX_4090 + 'garbage, line\n') })
    expect(result.gpus).toHaveLength(1)
    expect(result.gpus[0]).toMatchObject({ model: 'NVIDIA GeForce RTX 4090', cudaVersion: '12.4' })
    expect(result.error).toMatch(/^skipped 1 line\(s\) of nvidia-smi output that are not GPUs: line 2 "garbage, line"/)
  })

  it('leaves the CUDA version null when the banner lacks it, and notes a banner that failed', async () => {
    expect((await detectGpus({ run: fakeSmi(T4, BANNER_NO_CUDA) })).gpus[0]?.cudaVersion).toBeNull()
    const run: RunCommand = async (_, args) => {
      if (args.length === 0) throw execError(1, 'Unable to determine the device handle for GPU0000:18:00.0: Unknown Error\n')
      return H100
    }
    const result = await detectGpus({ run })
    expect(result.gpus[0]?.cudaVersion).toBeNull()
    expect(result.error).toBe('CUDA version unknown: Unable to determine the device handle for GPU0000:18:00.0: Unknown Error')
  })

  describe('with real processes', () => {
    let dir: string
    beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-smi-')) })
    afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

    it('finds nothing and no error on this machine, which has no nvidia-smi', async ({ skip }) => {
      if (await runCommand('sh', ['-c', 'command -v nvidia-smi || true'], { timeoutMs: 5000 }) !== '') skip()
      expect(await detectGpus()).toEqual({ gpus: [] })
    })

    it('reads the failure line of a program that exits like nvidia-smi without its driver', async () => {
      const script = join(dir, 'nvidia-smi')
      await writeFile(script, `#!/bin/sh\ncat <<'OUT'\n${DRIVER_ERROR}OUT\nexit 9\n`)
      await chmod(script, 0o755)
      const run: RunCommand = (_, args, options) => runCommand(script, args, options)
      expect(await detectGpus({ run })).toEqual({ gpus: [], error: DRIVER_ERROR.trim() })
    })

    it('gives up on an nvidia-smi that hangs, within its timeout', async () => {
      const run: RunCommand = (_, __, options) => runCommand('sleep', ['30'], options)
      expect(await detectGpus({ run, timeoutMs: 200 })).toEqual({ gpus: [], error: 'nvidia-smi did not answer within 0.2 s' })
    })
  })
})
