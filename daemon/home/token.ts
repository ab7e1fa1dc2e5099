import { randomBytes } from 'node:crypto'
import { HomeFileError } from './errors.js'
import { loadOrCreateSecret } from './secret-file.js'

const TOKEN_BYTES = 32

/** The HTTP API's bearer token, kept in the home with mode 0600. */
export async function loadOrCreateApiToken (path: string): Promise<string> {
  const bytes = await loadOrCreateSecret(path, async () => new TextEncoder().encode(randomBytes(TOKEN_BYTES).toString('base64url')))
  const token = new TextDecoder().decode(bytes).trim()
  if (!/^[A-Za-z0-9_-]{32,}$/.test(token)) {
    throw new HomeFileError(`the API token ${path} is malformed; delete it and restart the daemon to make a new one`)
  }
  return token
}
