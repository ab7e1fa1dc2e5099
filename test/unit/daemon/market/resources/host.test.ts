import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectCpu, detectDisk, detectMemory, DiskStatError, parseMemAvailable } from '../../../../../daemon/market/resources/index.js'

describe('host resources', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'floe-host-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('counts the logical cores this process may use, and names the CPU', () => {
    const cpu = detectCpu()
    expect(cpu.cores).toBeGreaterThanOrEqual(1)
    expect([availableParallelism(), cpus().length]).toContain(cpu.cores)
    expect(cpu.model === null || cpu.model.length > 0).toBe(true)
    if (cpus()[0]?.model.trim()) expect(cpu.model).toBe(cpus()[0]?.model.trim())
  })

  it('says null for a CPU model the platform does not give', () => {
    expect(detectCpu({ cpus: () => [], availableParallelism: () => 3 })).toEqual({ model: null, cores: 3 })
  })

  it('reads total and available memory, available within total', async () => {
    const memory = await detectMemory()
    expect(memory.totalBytes).toBe(totalmem())
    expect(memory.availableBytes).toBeGreaterThan(0)
    expect(memory.availableBytes).toBeLessThanOrEqual(memory.totalBytes)
    if (process.platform === 'linux') expect(memory.source).toBe('meminfo')
  })

  it('parses MemAvailable from /proc/meminfo text, and falls back where there is none', async () => {
    expect(parseMemAvailable('MemTotal:       24684084 kB\nMemFree:        19007188 kB\nMemAvailable:   23759560 kB\n')).toBe(23759560 * 1024)
    expect(parseMemAvailable('MemTotal:       24684084 kB\nMemFree:        19007188 kB\n')).toBeNull()
    const old = join(dir, 'meminfo')
    await writeFile(old, 'MemTotal:       24684084 kB\nMemFree:        19007188 kB\n')
    expect((await detectMemory({ meminfoPath: old })).source).toBe('os')
    expect((await detectMemory({ meminfoPath: join(dir, 'absent') })).source).toBe('os')
  })

  it('reads the free space of the file system holding /tmp', async () => {
    const disk = await detectDisk('/tmp')
    expect(disk.path).toBe('/tmp')
    expect(disk.freeBytes).toBeGreaterThan(0)
    expect(disk.freeBytes).toBeLessThanOrEqual(disk.totalBytes)
  })

  it('measures a path not created yet on the file system it would be created on', async () => {
    const fresh = await detectDisk(join(dir, 'not', 'yet', 'home'))
    const parent = await detectDisk(dir)
    expect(fresh.totalBytes).toBe(parent.totalBytes)
    expect(fresh.freeBytes).toBeGreaterThan(0)
  })

  it('fails with DiskStatError, naming the path, when the file system cannot be read', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, '')
    const err = await detectDisk(join(file, 'below')).catch(err => err)
    expect(err).toBeInstanceOf(DiskStatError)
    expect(err.message).toContain(join(file, 'below'))
  })
})
