import { chmod, readFile, stat } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { HomeFileError } from './errors.js'

/** Owner read/write only: keys and tokens. */
export const SECRET_MODE = 0o600

/**
 * Reads a secret file, or creates it with `create()` when missing. Written atomically with
 * mode 0600 and fsynced, so a crash never leaves half a key. A secret found readable by
 * others is tightened back to 0600.
 */
export async function loadOrCreateSecret (path: string, create: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    const info = await stat(path)
    if ((info.mode & 0o077) !== 0) await chmod(path, SECRET_MODE)
    return new Uint8Array(await readFile(path))
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw new HomeFileError(`cannot read ${path}: ${err?.message ?? err}`)
  }
  const bytes = await create()
  await writeFileAtomic(path, Buffer.from(bytes), { mode: SECRET_MODE, fsync: true })
  return bytes
}
