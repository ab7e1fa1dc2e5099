import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadOrCreateApiToken, loadOrCreateIdentity, lockHome } from '../../../../daemon/home/index.js'

describe('home', () => {
  let home: string
  beforeEach(async () => { home = await mkdtemp(join(tmpdir(), 'floe-home-')) })
  afterEach(async () => { await rm(home, { recursive: true, force: true }) })

  it('creates an Ed25519 identity once and loads the same one after', async () => {
    const path = join(home, 'identity.key')
    const first = await loadOrCreateIdentity(path)
    expect(first.type).toBe('Ed25519')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const again = await loadOrCreateIdentity(path)
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(first).toString())
  })

  it('refuses a corrupt identity with a clear message and does not replace it', async () => {
    const path = join(home, 'identity.key')
    await writeFile(path, 'garbage', { mode: 0o600 })
    await expect(loadOrCreateIdentity(path)).rejects.toThrow(`the identity key ${path} is unreadable`)
    expect(await readFile(path, 'utf8')).toBe('garbage')
  })

  it('makes a 0600 API token once and tightens a token readable by others', async () => {
    const path = join(home, 'api-token')
    const token = await loadOrCreateApiToken(path)
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await chmod(path, 0o644)
    expect(await loadOrCreateApiToken(path)).toBe(token)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('lets one holder lock a home at a time, and frees it on release', async () => {
    const lock = await lockHome(home)
    await expect(lockHome(home)).rejects.toMatchObject({ name: 'HomeLockedError' })
    await lock.release()
    const again = await lockHome(home)
    await again.release()
  })
})
