import { z } from 'zod'

/**
 * What a run config (floe.yml / floyd.yml) sets, once parsed (protocol/jobs/run-config.ts
 * parses; this module has no YAML, so the web UI can use it), and how a task's settings
 * combine with the top level's.
 */

/** Looked for in the code folder, in this order: the first found is the config. */
export const RUN_CONFIG_FILES = ['floe.yml', 'floyd.yml'] as const

/** A config file is code-sized: past this it is refused, not parsed. */
export const MAX_RUN_CONFIG_BYTES = 256 * 1024

/** Snapshot sizes past which `floe run` warns (the config's `warn_upload_size` / `warn_upload_files` change them). */
export const DEFAULT_WARN_UPLOAD = { bytes: 100 * 1024 * 1024, files: 10_000 }

/**
 * FloydHub's `machine:` names as floe shapes. Keys given beside `machine:` at the same
 * level (cpu, memory, gpu) win over the machine's.
 */
export const MACHINES: Record<string, { cpu: number, memory: string, gpu: number }> = {
  cpu: { cpu: 2, memory: '8g', gpu: 0 },
  cpu2: { cpu: 8, memory: '32g', gpu: 0 },
  gpu: { cpu: 4, memory: '16g', gpu: 1 },
  gpu2: { cpu: 8, memory: '32g', gpu: 1 }
}

export class RunConfigError extends Error {
  override name = 'RunConfigError'
}

/** What one level of a config (the top or a task) sets; absent is "not set here". */
export const RunSettings = z.object({
  description: z.string().optional(),
  env: z.string().optional(),
  cpu: z.number().optional(),
  memory: z.string().optional(),
  gpu: z.number().optional(),
  gpuModel: z.string().optional(),
  gpuMemory: z.string().optional(),
  data: z.array(z.object({ ref: z.string(), mount: z.string() })).optional(),
  /** as written: one string (run through the shell when it has spaces) or the argument list */
  command: z.array(z.string()).optional(),
  maxPrice: z.number().optional(),
  maxCost: z.number().optional(),
  /** a duration as `floe run --timeout` takes it (`2h`, `90m`, `3600`) */
  timeout: z.string().optional(),
  network: z.boolean().optional(),
  deterministic: z.boolean().optional(),
  retries: z.number().optional(),
  message: z.string().optional()
})
export type RunSettings = z.infer<typeof RunSettings>

export const RunConfig = z.object({
  /** the file's name (`floe.yml`), as errors name it */
  file: z.string(),
  defaults: RunSettings,
  tasks: z.record(z.string(), RunSettings),
  /** gitignore patterns added to the snapshot's ignore rules (top level only: the folder is one snapshot) */
  ignore: z.array(z.string()),
  warnUpload: z.object({ bytes: z.number(), files: z.number() })
})
export type RunConfig = z.infer<typeof RunConfig>

/**
 * The settings a run gets from a config: the top level's, with the task's (when named)
 * over them. A task's `data` replaces a default mount at the same path and adds the others.
 */
export function taskSettings (config: RunConfig, task: string | undefined): RunSettings {
  if (task == null) return config.defaults
  const own = config.tasks[task]
  if (own == null) {
    const names = Object.keys(config.tasks)
    throw new RunConfigError(names.length === 0
      ? `${config.file} defines no tasks, so there is no task '${task}'; add it under "tasks:", or run without --task`
      : `${config.file} has no task '${task}'; its tasks are ${names.join(', ')}`)
  }
  const { description: _ignored, ...defaults } = config.defaults
  return { ...defaults, ...own, ...(defaults.data != null || own.data != null ? { data: mergeMounts(defaults.data ?? [], own.data ?? []) } : {}) }
}

/** `over`'s mounts, with those of `under` at other paths kept before them. */
export function mergeMounts (under: Array<{ ref: string, mount: string }>, over: Array<{ ref: string, mount: string }>): Array<{ ref: string, mount: string }> {
  const taken = new Set(over.map(m => m.mount))
  return [...under.filter(m => !taken.has(m.mount)), ...over]
}
