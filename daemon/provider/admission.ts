import type { CID } from 'multiformats/cid'
import type { Offer } from '../../protocol/market/offer.js'
import { Requirements } from '../../protocol/market/requirements.js'
import type { ProviderSettings } from '../../protocol/market/settings.js'
import { decodeJobSpec, shapeRequirements, specCid, type JobSpec } from '../../protocol/jobs/spec.js'
import { decodeJobRequest, JOB_REQUEST_MAX_SKEW_MS, JOB_REQUEST_SIGNING_DOMAIN, type JobRequest, type RefusalReason } from '../../protocol/jobs/wire.js'
import { matchOffers } from '../market/match.js'
import { signedBy } from '../../protocol/signed-by.js'

export interface AdmissionContext {
  self: string
  /** the peer the request came from */
  remotePeer: string
  settings: ProviderSettings
  /** this provider's offer as of now: free capacity less what running jobs hold */
  offer: Offer
  /** environment name → image reference, for those held */
  environments: ReadonlyMap<string, string>
  /**
   * For a spec that names its image (by CID and id): the image to run when it is held or may
   * be brought here, else why not (daemon/environments/environment-cache.ts).
   */
  imageOf?: (spec: JobSpec) => Promise<{ image: string } | { refuse: string }>
  /** job ids already seen: a request is accepted once */
  known: (jobId: string) => boolean
  now: number
}

export type Admission =
  | { accepted: true, request: JobRequest, spec: JobSpec, specCid: CID, pricePerHour: number, gpus: number[], image: string }
  | { accepted: false, reason: RefusalReason, message: string }

const refuse = (reason: RefusalReason, message: string): Admission => ({ accepted: false, reason, message })

/**
 * Whether to take a signed job request, and on what terms. Checked in this order, so a
 * client hears the most lasting reason first: who asks (not-allowed), whether the request
 * is genuine (invalid), whether the job could ever fit (too-big, not-allowed,
 * environment-missing), whether it fits now (busy), and whether the price suits (price).
 */
export async function admitJob (bytes: Uint8Array, signature: Uint8Array, context: AdmissionContext): Promise<Admission> {
  const { settings, remotePeer, offer } = context
  if (!settings.enabled) return refuse('not-allowed', 'provider mode is off on this node')
  if (settings.deny.includes(remotePeer) || (settings.allow.length > 0 && !settings.allow.includes(remotePeer))) {
    return refuse('not-allowed', `peer ${remotePeer} may not submit jobs here`)
  }

  let request: JobRequest
  let spec: JobSpec
  let cid: CID
  try {
    request = decodeJobRequest(bytes)
    spec = decodeJobSpec(request.spec)
    cid = await specCid(request.spec)
  } catch (err: any) {
    return refuse('invalid', `the request does not decode: ${err?.message ?? err}`)
  }
  if (request.client !== remotePeer) return refuse('invalid', `the request names client ${request.client} but came from ${remotePeer}`)
  if (request.provider !== context.self) return refuse('invalid', `the request is meant for provider ${request.provider}`)
  if (!await signedBy(request.client, JOB_REQUEST_SIGNING_DOMAIN, bytes, signature)) return refuse('invalid', 'the request is not signed by its client')
  if (!cid.equals(request.specCid)) return refuse('invalid', `the spec's CID is ${cid}, not ${request.specCid} as the request says`)
  if (Math.abs(request.issuedAt - context.now) > JOB_REQUEST_MAX_SKEW_MS) return refuse('invalid', 'the request is dated too far from this clock (a replay, or a clock to set)')
  if (context.known(request.jobId)) return refuse('invalid', `job ${request.jobId} was already submitted here`)

  const { resources } = spec
  const bigger: string[] = []
  if (spec.timeoutSeconds > offer.maxJobSeconds) bigger.push(`time limit ${spec.timeoutSeconds} s is above the ${offer.maxJobSeconds} s maximum`)
  if (resources.cpus > offer.cpu.shared) bigger.push(`${resources.cpus} CPUs asked, ${offer.cpu.shared} shared`)
  if (resources.memoryBytes > offer.memory.sharedBytes) bigger.push(`${resources.memoryBytes} bytes of memory asked, ${offer.memory.sharedBytes} shared`)
  if (resources.gpus > offer.gpus.length) bigger.push(`${resources.gpus} GPUs asked, ${offer.gpus.length} shared`)
  if (bigger.length > 0) return refuse('too-big', bigger.join('; '))
  if (spec.network && !settings.network) return refuse('not-allowed', 'jobs may not use the network here')
  const held = context.environments.get(spec.environment)
  const plan: { image: string } | { refuse: string } = spec.image != null && context.imageOf != null
    ? await context.imageOf(spec)
    : held != null ? { image: held } : { refuse: `environment "${spec.environment}" is not held here` }
  if ('refuse' in plan) return refuse('environment-missing', plan.refuse)
  const image = plan.image

  const requirements = Requirements.parse(shapeRequirements(spec))
  // The offer with its expiry pushed out: admission is about capacity and price, not freshness.
  const { ranked, excluded } = matchOffers([{ ...offer, expiresAt: context.now + 60_000 }], requirements, { now: context.now })
  const fit = ranked[0]
  if (fit == null) return refuse('busy', excluded[0]?.reasons.join('; ') ?? 'no capacity free now')
  if (fit.costPerHour > request.maxPricePerHour) {
    return refuse('price', `this job costs ${fit.costPerHour.toFixed(4)}/h here, above the ${request.maxPricePerHour.toFixed(4)}/h the client accepts`)
  }
  return { accepted: true, request, spec, specCid: cid, pricePerHour: fit.costPerHour, gpus: fit.gpus, image }
}
