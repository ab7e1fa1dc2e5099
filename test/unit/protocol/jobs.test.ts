import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { decodeJobSpec, encodeJobSpec, mountProblem, specCid, type JobSpec } from '../../../protocol/jobs/spec.js'
import { decodeClientMessage, decodeProviderMessage, encodeJobMessage } from '../../../protocol/jobs/wire.js'

const CODE = CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
const spec: JobSpec = {
  version: 1,
  code: CODE,
  inputs: [{ cid: CODE, mount: '/data' }],
  environment: 'busybox',
  command: ['python', 'train.py'],
  resources: { cpus: 2, memoryBytes: 2 * 1024 ** 3, gpus: 0 },
  timeoutSeconds: 600,
  network: false
}

describe('job specs', () => {
  it('encode the same way everywhere: the CID is the identity', async () => {
    const bytes = encodeJobSpec(spec)
    expect(decodeJobSpec(bytes)).toEqual(spec)
    const reordered = encodeJobSpec({ network: false, timeoutSeconds: 600, resources: { gpus: 0, memoryBytes: 2 * 1024 ** 3, cpus: 2 }, command: ['python', 'train.py'], environment: 'busybox', inputs: spec.inputs, code: CODE, version: 1 })
    expect((await specCid(reordered)).equals(await specCid(bytes))).toBe(true)
    expect((await specCid(encodeJobSpec({ ...spec, command: ['python', 'eval.py'] }))).equals(await specCid(bytes))).toBe(false)
    // the spec links its code and inputs, so pinning it keeps them
    expect(dagCbor.decode<any>(bytes).code.equals(CODE)).toBe(true)
  })

  it('refuse mounts over the code or output folders, twice on one path, or not absolute', () => {
    expect(mountProblem(['/data', '/models/base'])).toBeNull()
    expect(mountProblem(['/code'])).toMatch(/\/code is the job's code folder/)
    expect(mountProblem(['/output/x'])).toMatch(/\/output is the job's output folder/)
    expect(mountProblem(['/d', '/d'])).toBe('two inputs are mounted at /d')
    expect(mountProblem(['data'])).toMatch(/absolute/)
    expect(mountProblem(['/a/../etc'])).toMatch(/absolute/)
    expect(mountProblem(['/proc'])).toBe('cannot mount an input at /proc')
    expect(() => encodeJobSpec({ ...spec, inputs: [{ cid: CODE, mount: '/code' }] })).toThrow(/code folder/)
    expect(() => encodeJobSpec({ ...spec, command: [] })).toThrow()
  })
})

describe('/floe/job/1.3.0 messages', () => {
  it('round-trip, and a message that breaks the schema is refused with a clear error', () => {
    const log = { type: 'lines' as const, lines: [{ seq: 3, at: 5, stream: 'stderr' as const, line: 'hi' }, { seq: 4, at: 6, stream: 'stdout' as const, line: 'ho' }] }
    expect(decodeProviderMessage(encodeJobMessage(log))).toEqual(log)
    expect(decodeClientMessage(encodeJobMessage({ type: 'attach', jobId: 'a'.repeat(32), after: 7 }))).toEqual({ type: 'attach', jobId: 'a'.repeat(32), after: 7 })
    expect(() => decodeClientMessage(dagCbor.encode({ type: 'attach', jobId: '../../etc', after: 0 }))).toThrow(/does not fit \/floe\/job\/1.3.0/)
    expect(() => decodeProviderMessage(new Uint8Array([0xff, 0x00]))).toThrow(/not valid dag-cbor/)
    expect(() => decodeProviderMessage(dagCbor.encode({ type: 'state', state: 'exploded', at: 1 }))).toThrow(/does not fit/)
  })

  it('carry a workspace home as a typed message (1.1.0), its CID a link', () => {
    const saved = { type: 'home-saved' as const, home: CODE, bytes: 1234, at: 5 }
    expect(decodeProviderMessage(encodeJobMessage(saved))).toEqual(saved)
    expect(() => decodeProviderMessage(dagCbor.encode({ type: 'home-saved', home: CODE.toString(), bytes: 1, at: 1 }))).toThrow(/does not fit/)
  })
})
