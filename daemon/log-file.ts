import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'

/**
 * The daemon's log file, rotated by size: past `maxBytes`, `daemon.log` becomes
 * `daemon.log.1` (the older ones shift up to `keep`, the oldest is dropped) and a new file is
 * started, so a peer that makes the daemon log without end fills at most
 * `maxBytes × (keep + 1)` of the home. Writes are synchronous, as pino's own file
 * destination was: a line logged before a crash is on disk.
 */
export class RotatingLogFile {
  private fd: number
  private size: number

  constructor (private readonly path: string, private readonly maxBytes: number, private readonly keep: number) {
    this.fd = openSync(path, 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  write (line: string): boolean {
    const bytes = Buffer.from(line)
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate()
    writeSync(this.fd, bytes)
    this.size += bytes.length
    return true
  }

  private rotate (): void {
    closeSync(this.fd)
    rmSync(`${this.path}.${this.keep}`, { force: true })
    for (let n = this.keep - 1; n >= 1; n--) {
      try {
        renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`)
      } catch (err: any) {
        if (err?.code !== 'ENOENT') throw err
      }
    }
    renameSync(this.path, `${this.path}.1`)
    this.fd = openSync(this.path, 'a', 0o600)
    this.size = 0
  }
}
