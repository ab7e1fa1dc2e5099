import { rm } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import type { ApiEndpoint } from '../../protocol/home.js'
import { SECRET_MODE } from './secret-file.js'

/** Publishes the running daemon's API address in its home, for the CLI. */
export async function writeApiEndpoint (path: string, endpoint: ApiEndpoint): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(endpoint, null, 2) + '\n', { mode: SECRET_MODE })
}

export async function removeApiEndpoint (path: string): Promise<void> {
  await rm(path, { force: true })
}
