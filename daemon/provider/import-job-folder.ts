import type { Blockstore } from 'interface-blockstore'
import type { ProviderSettings } from '../../protocol/market/settings.js'
import { importPath, type ImportSummary } from '../content/index.js'
import type { GcGuard } from '../store/gc-guard.js'
import { syncBlocks } from '../store/stores.js'
import { jobBudgets } from './job-budgets.js'

export interface ImportJobFolderComponents {
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  blocksPath: string
  guard: Pick<GcGuard, 'shared'>
  settings: () => Pick<ProviderSettings, 'scratchBytes' | 'maxOutputBytes' | 'maxJobFiles'>
}

/**
 * Imports a folder of a job's disk (its /output, a workspace's home): walked as one file
 * system (a link, or a folder swapped for one, never leads off the job's disk), each file
 * opened without following links and checked to be the file listed, within the output
 * budget. Call it only when the job's container has stopped or is paused, so nothing in the
 * folder changes while it is walked (SECURITY.md). Its blocks are durable when it returns;
 * its root is not pinned yet: the caller pins it.
 */
export async function importJobFolder (components: ImportJobFolderComponents, folder: string): Promise<ImportSummary> {
  return await components.guard.shared(async () => {
    const imported = await importPath(components.blockstore, folder, { budget: jobBudgets(components.settings()).output, oneFileSystem: true })
    await syncBlocks(components.blocksPath)
    return imported
  })
}
