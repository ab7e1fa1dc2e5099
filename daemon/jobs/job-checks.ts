import type { CID } from 'multiformats/cid'
import { mountProblem, shapeRequirements, type JobImage, type JobSpec } from '../../protocol/jobs/spec.js'
import { Requirements, type RequirementsInput } from '../../protocol/market/requirements.js'
import type { MatchResult } from '../market/match.js'
import { InvalidJobError, NoProviderError, UnknownEnvironmentError } from './errors.js'
import type { Candidates } from './job-runner.js'
import type { JobRecord } from './records.js'

/** The environment every node knows: the image the set-up builds. */
export const BUILTIN_ENVIRONMENT = 'busybox'

export interface JobCheckComponents {
  self: string
  /** ranks the live offers for a shape; `idle`: as if no provider were running anything */
  match: (requirements: Requirements, options: { idle?: boolean, reliability: (peer: string) => number | undefined }) => MatchResult
  /** environment names some live offer or this node holds */
  knownEnvironments: () => Promise<Set<string>>
  /** the image of an environment this node holds as content (published or built here): jobs carry it, so providers lacking it fetch it */
  environmentImage?: (name: string) => Promise<JobImage | undefined>
  /** a provider's 0..1 record of carrying this node's jobs to an end */
  reliability: (peer: string) => number | undefined
  /** a data ref or a job output ref → its root */
  resolveInput: (ref: string) => Promise<CID>
}

/**
 * What a job is checked against before anything runs, and where it may go: its inputs and
 * mounts, its environment and resources, and the providers that can take it (ranked), or
 * why none can.
 */
export function jobChecks (components: JobCheckComponents) {
  const requirementsOf = (record: Pick<JobRecord, 'spec' | 'maxPricePerHour'>): Requirements => Requirements.parse({
    ...shapeRequirements(record.spec),
    environment: record.spec.environment,
    ...(record.spec.image != null ? { environmentBytes: record.spec.image.bytes } : {}),
    ...(record.maxPricePerHour != null ? { maxPricePerHour: record.maxPricePerHour } : {}),
    ...(record.spec.network ? { network: true } : {})
  })

  /** Ranked providers, or why there are none (each excluded offer with its reasons). */
  const candidates = (record: Pick<JobRecord, 'spec' | 'maxPricePerHour' | 'requestedProvider'>, exclude: ReadonlySet<string> = new Set()): Candidates => {
    const wanted = record.requestedProvider
    const usable = (peerId: string): boolean => !exclude.has(peerId) && (wanted == null || peerId === wanted)
    const result = components.match(requirementsOf(record), { reliability: components.reliability })
    const ranked = result.ranked.filter(r => usable(r.peerId))
    if (ranked.length > 0) return { providers: ranked.map(r => ({ peerId: r.peerId, costPerHour: r.costPerHour })), why: '', busy: false }
    // Nothing free now as the book says; those that fit once their running jobs end are asked
    // anyway (the book may be behind), and while they answer busy the job waits.
    const idle = components.match(requirementsOf(record), { idle: true, reliability: components.reliability }).ranked.filter(r => usable(r.peerId))
    const busy = idle.length > 0
    if (busy) return { providers: idle.map(r => ({ peerId: r.peerId, costPerHour: r.costPerHour })), why: 'every provider that fits is busy', busy }
    const excluded = result.excluded.filter(e => wanted == null || e.peerId === wanted)
    if (wanted != null && excluded.length === 0 && !exclude.has(wanted)) return { providers: [], why: `provider ${wanted} has no live offer; see floe providers`, busy }
    if (excluded.length === 0 && result.ranked.length === 0) return { providers: [], why: 'no provider offers capacity: turn provider mode on (floe provider on) or connect to a provider (floe connect)', busy }
    const reasons = excluded.map(e => `${e.peerId === components.self ? 'this node' : e.peerId}: ${e.reasons.join(', ')}`)
    if (exclude.size > 0) reasons.push(`already tried: ${[...exclude].join(', ')}`)
    return { providers: [], why: `no provider can take this job — ${reasons.join('; ')}`, busy }
  }

  /** Data refs → CIDs, with their mounts checked. */
  const checkInputs = async (data: Array<{ ref: string, mount: string }>): Promise<Array<{ ref: string, cid: CID, mount: string }>> => {
    const problem = mountProblem(data.map(d => d.mount))
    if (problem != null) throw new InvalidJobError(problem)
    const inputs: Array<{ ref: string, cid: CID, mount: string }> = []
    for (const d of data) inputs.push({ ref: d.ref, cid: await components.resolveInput(d.ref), mount: d.mount })
    return inputs
  }

  /**
   * The environment, resources and shape a job asks for, checked: a known environment, valid
   * resources, and some provider that can take it (now, or once it is free). `reusable`: a
   * missing provider is no error yet (an earlier output may be returned instead).
   */
  const checkShape = async (request: { command: string[], timeoutSeconds: number, maxPricePerHour?: number, provider?: string }, environment: string, requirementsInput: RequirementsInput, options: { reusable?: boolean } = {}): Promise<Omit<JobSpec, 'version' | 'code' | 'inputs'>> => {
    const known = await components.knownEnvironments()
    known.add(BUILTIN_ENVIRONMENT)
    const image = await components.environmentImage?.(environment)
    if (!known.has(environment) && image == null) {
      throw new UnknownEnvironmentError(`unknown environment "${environment}": no provider offers it and this node holds none by that name (known: ${[...known].sort().join(', ')})`)
    }
    let requirements: Requirements
    try {
      requirements = Requirements.parse(requirementsInput)
    } catch (err: any) {
      throw new InvalidJobError(`bad resources: ${err?.issues?.map((i: any) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? err?.message}`)
    }
    const shape = {
      environment,
      ...(image != null ? { image } : {}),
      command: request.command,
      resources: { cpus: requirements.cpus, memoryBytes: requirements.memoryBytes, gpus: requirements.gpus, ...(requirements.gpuModel != null ? { gpuModel: requirements.gpuModel } : {}), ...(requirements.minGpuMemoryBytes != null ? { minGpuMemoryBytes: requirements.minGpuMemoryBytes } : {}) },
      timeoutSeconds: request.timeoutSeconds,
      network: requirements.network === true
    }
    const placeable = candidates({ spec: { ...shape, image: image == null ? undefined : { ...image, cid: image.cid.toString() }, code: '', inputs: [] }, maxPricePerHour: request.maxPricePerHour ?? null, requestedProvider: request.provider ?? null })
    if (placeable.providers.length === 0 && !placeable.busy && options.reusable !== true) throw new NoProviderError(placeable.why)
    return shape
  }

  return { candidates, checkShape, checkInputs }
}
