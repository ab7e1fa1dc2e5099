import { describe, expect, it } from 'vitest'
import { humanLine, prettyDestination } from '../../../../daemon/log-pretty.js'

const time = '2026-12-01T10:00:00.000Z'
const PEER = '12D3KooWKQRa1QVfkfLNS7kEAhiBrKMWQbQrsS1H1hnZDoNoNC4Q'

describe('the daemon\'s lines for people', () => {
  it('say what happened in a short line per event', () => {
    const strip = (line: string | null): string | null => line?.replace(/^\S+ {2}/, '') ?? null
    expect(strip(humanLine({ level: 30, time, event: 'ready', peerId: PEER, api: 'http://127.0.0.1:7460' }))).toBe('floe ready — peer 12D3KooW…NC4Q, API 127.0.0.1:7460; web UI: run `floe ui`')
    expect(strip(humanLine({ level: 30, time, event: 'peer.connected', peer: PEER }))).toBe('peer 12D3KooW…NC4Q connected')
    expect(strip(humanLine({ level: 30, time, event: 'job.started', ref: 'alice/mnist/3', provider: PEER, self: 'me' }))).toBe('job alice/mnist/3 started on 12D3KooW…NC4Q')
    expect(strip(humanLine({ level: 30, time, event: 'job.ended', ref: 'alice/mnist/3', state: 'success', seconds: 4.23 }))).toBe('job alice/mnist/3 success in 4.2s')
    expect(strip(humanLine({ level: 30, time, event: 'job.ended', ref: 'alice/mnist/3', state: 'failed', seconds: 125, reason: 'exit code 2' }))).toBe('job alice/mnist/3 failed in 2m5s (exit code 2)')
    expect(strip(humanLine({ level: 30, time, event: 'provider.job', state: 'running', jobId: 'f089f3d01cfba3e0144c75f1b4d43e2a', client: PEER }))).toBe('running job f089f3d0…3e2a for 12D3KooW…NC4Q')
    expect(humanLine({ level: 30, time, event: 'provider.job', state: 'preparing', jobId: 'x', client: PEER })).toBeNull()
    expect(strip(humanLine({ level: 40, time, msg: 'could not save log lines', err: 'disk full' }))).toBe('warning: could not save log lines (disk full)')
    // the rest of the log stays in the file
    expect(humanLine({ level: 30, time, msg: 'job state', jobId: 'x' })).toBeNull()
  })

  it('skips what is not JSON and writes one line per event', () => {
    let out = ''
    const dest = prettyDestination({ write: (text: string) => { out += text } })
    dest.write(`not json\n${JSON.stringify({ level: 30, time, event: 'peer.connected', peer: 'p' })}\n${JSON.stringify({ level: 30, time, msg: 'quiet' })}\n`)
    expect(out.split('\n').filter(Boolean)).toHaveLength(1)
    expect(out).toMatch(/peer p connected\n$/)
  })
})
