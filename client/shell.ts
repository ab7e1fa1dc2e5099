import WebSocket from 'ws'
import { SHELL_PATH, ShellControl, shellInputFrames } from '../protocol/api/workspace-routes.js'
import type { ApiClient } from './api-client.js'

/**
 * `floe shell`: this terminal joined to a pseudo-terminal in the workspace, through the
 * daemon's WebSocket and the provider's tunnel. The local terminal is put in raw mode (so
 * Ctrl-C, Ctrl-D and arrows go to the remote side), its size follows window changes, and
 * the promise resolves with the remote process's exit code.
 */
export async function runShell (client: ApiClient, ref: string, command: string[] | null): Promise<number> {
  const url = new URL(SHELL_PATH, client.url.replace(/^http/, 'ws'))
  url.searchParams.set('ref', ref)
  url.searchParams.set('cols', String(process.stdout.columns ?? 80))
  url.searchParams.set('rows', String(process.stdout.rows ?? 24))
  if (command != null) url.searchParams.set('command', JSON.stringify(command))
  const ws = new WebSocket(url, { headers: client.token != null ? { authorization: `Bearer ${client.token}` } : {} })
  const stdin = process.stdin
  const raw = stdin.isTTY === true
  return await new Promise<number>((resolve, reject) => {
    let code: number | null = null
    let failure: Error | undefined
    // stdin's chunks can be any size (a pipe, a paste): sent in frames the daemon takes
    const onInput = (chunk: Buffer): void => { for (const frame of shellInputFrames(chunk)) ws.send(frame, { binary: true }) }
    // the end of local input is a terminal's end-of-file character (Ctrl-D), as a keyboard
    // gives it: closing the terminal's input would hang up the process before its output
    const onEnd = (): void => { if (ws.readyState === ws.OPEN) ws.send(Buffer.from([4]), { binary: true }) }
    const onResize = (): void => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 })) }
    const restore = (): void => {
      stdin.off('data', onInput)
      stdin.off('end', onEnd)
      process.stdout.off('resize', onResize)
      if (raw) stdin.setRawMode(false)
      stdin.pause()
    }
    ws.on('unexpected-response', (_req, res) => { failure = new Error(`the daemon refused the terminal: HTTP ${res.statusCode ?? '?'}`) })
    ws.on('error', err => { failure ??= err })
    ws.on('message', (data, binary) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)
      if (binary) {
        process.stdout.write(bytes)
        return
      }
      const message = ShellControl.parse(JSON.parse(bytes.toString('utf8')))
      if (message.type === 'ready') {
        if (raw) stdin.setRawMode(true)
        stdin.on('data', onInput)
        stdin.on('end', onEnd)
        process.stdout.on('resize', onResize)
        stdin.resume()
      } else if (message.type === 'exit') {
        code = message.code
      } else if (message.type === 'error') {
        failure = new Error(message.message)
      }
    })
    ws.on('close', (closeCode: number, reason: Buffer) => {
      // the daemon says why it closed the socket on a frame it refused (1002, 1007, 1009)
      if (failure == null && closeCode !== 1000 && closeCode !== 1005 && reason.length > 0) failure = new Error(`the daemon closed the terminal (${closeCode}): ${reason.toString('utf8')}`)
      restore()
      if (failure != null) reject(failure)
      else resolve(code ?? 0)
    })
  })
}
