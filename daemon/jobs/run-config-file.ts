import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_RUN_CONFIG_BYTES, parseRunConfig, RUN_CONFIG_FILES, RunConfigError, type RunConfig } from '../../protocol/jobs/run-config.js'

/**
 * The run config of a code folder: `floe.yml`, else `floyd.yml`, in the folder itself (not
 * above it: the config travels with the snapshot it describes); null when it has neither.
 * A link is not followed (the file is code, uploaded as what it is).
 */
export async function readRunConfig (folder: string): Promise<RunConfig | null> {
  for (const name of RUN_CONFIG_FILES) {
    let handle
    try {
      handle = await open(join(folder, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (err: any) {
      if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') continue
      if (err?.code === 'ELOOP') throw new RunConfigError(`${name}:1: is a symbolic link; make it a plain file in the code folder`)
      throw new RunConfigError(`${name}:1: cannot be read (${err?.code ?? err?.message ?? err}); check its permissions`)
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw new RunConfigError(`${name}:1: is not a plain file; make it one, or rename it`)
      if (info.size > MAX_RUN_CONFIG_BYTES) throw new RunConfigError(`${name}:1: the file is over ${MAX_RUN_CONFIG_BYTES / 1024} KiB; a run config holds settings, not data`)
      const text = await handle.readFile({ encoding: 'utf8' })
      return parseRunConfig(text, name)
    } finally {
      await handle.close()
    }
  }
  return null
}
