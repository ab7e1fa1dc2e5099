import type { ClassicLevel } from 'classic-level'
import type { JobState } from '../../protocol/jobs/job.js'

/** What the provider keeps of a job it accepted, in the index, so a restart can pick it up. */
export interface ProviderJobRecord {
  jobId: string
  leaseId: string
  client: string
  /** the signed request as received (base64), the source of truth for the spec and terms */
  request: string
  signature: string
  pricePerHour: number
  /** GPU indexes assigned */
  gpus: number[]
  acceptedAt: number
  state: JobState
  states: Array<{ state: JobState, at: number }>
  containerId: string | null
  /** the signed receipt (base64 payload and signature) once the job ended */
  receipt: { payload: string, signature: string } | null
  /** when the output may be cleaned up (set when the job ends) */
  keepUntil: number | null
  /** a workspace's latest saved home (CID), while it runs */
  snapshot?: string | null
  /** submitted over /floe/job/1.2.0 by another peer: usage is stated and vouchers are awaited (daemon/billing) */
  metered?: boolean
}

const PREFIX = 'provider-job!'

export function providerJobRecords (index: Pick<ClassicLevel<string, string>, 'put' | 'del' | 'values'>) {
  return {
    async put (record: ProviderJobRecord): Promise<void> {
      await index.put(PREFIX + record.jobId, JSON.stringify(record), { sync: true })
    },
    async del (jobId: string): Promise<void> {
      await index.del(PREFIX + jobId, { sync: true })
    },
    async * all (): AsyncGenerator<ProviderJobRecord> {
      for await (const value of index.values({ gte: PREFIX, lt: PREFIX + '\xff' })) yield JSON.parse(value) as ProviderJobRecord
    }
  }
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
export const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))
