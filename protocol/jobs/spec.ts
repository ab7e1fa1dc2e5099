import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import type { RequirementsInput } from '../market/requirements.js'
import { ImageId } from '../ids.js'
import { TiB } from '../units.js'

/**
 * A job's spec: what to run, on what, with what. Stored as a dag-cbor block (code and inputs
 * are CID links, so pinning the spec keeps them); its CID is the job's identity for
 * reproduction and caching — the same code, data, environment, command and shape give the
 * same CID on any machine. Who runs it, when and for how much are not part of it.
 */

/** The most one spec block may take (it is sent whole in a job request). */
export const MAX_SPEC_BYTES = 128 * 1024
export const MAX_INPUTS = 64
/** The working directory and the output folder: no input may be mounted over them. */
export const CODE_MOUNT = '/code'
export const OUTPUT_MOUNT = '/output'
/** The job's scratch folder, on its own size-limited disk (the root file system is read-only). */
export const TMP_MOUNT = '/tmp'
/**
 * Where a provider mounts its own tools into every container, read-only (a static busybox at
 * HELPER_BINARY, so forwarding a port or probing one needs nothing in the image): no input may
 * be mounted there or inside.
 */
export const HELPER_DIR = '/.floe'
export const HELPER_BINARY = `${HELPER_DIR}/busybox`
/** Kernel and device trees no input may hide. */
const FORBIDDEN_MOUNTS = ['/', '/proc', '/sys', '/dev', '/tmp']

/** Bytes as dag-cbor decodes them (any Uint8Array). */
export const Bytes = z.custom<Uint8Array>(value => value instanceof Uint8Array, { message: 'not bytes' })

export const CidLink = z.custom<CID>(value => CID.asCID(value) != null, { message: 'not a CID' })

/** An absolute, normalised container path: `/data`, `/models/base`. */
export const MountPath = z.string().min(2).max(256).refine(
  path => /^(\/[^/\0]+)+$/.test(path) && !path.split('/').some(part => part === '.' || part === '..'),
  { message: 'must be an absolute container path like /data (no ., .., // or trailing /)' }
)

export const JobResources = z.object({
  cpus: z.number().int().positive().max(4096),
  memoryBytes: z.number().int().positive().max(64 * TiB),
  gpus: z.number().int().nonnegative().max(64),
  gpuModel: z.string().min(1).max(128).optional(),
  minGpuMemoryBytes: z.number().int().positive().max(64 * TiB).optional()
}).strict()
export type JobResources = z.infer<typeof JobResources>

/**
 * The exact image a job runs in, when the client knows it as content: the root of its DAG
 * (daemon/environments), the image id (the config's digest, checked after loading) and its
 * size (what a provider lacking it checks against its disk before fetching it).
 */
export const JobImage = z.object({
  cid: CidLink,
  id: ImageId,
  bytes: z.number().int().nonnegative().max(64 * TiB)
}).strict()
export type JobImage = z.infer<typeof JobImage>

/** Where a workspace's home is mounted, read-write: saved as a DAG when it stops. */
export const HOME_MOUNT = '/home/floe'

/**
 * A workspace: a long-running container reached through terminals and forwarded ports
 * (`/floe/tunnel/1.0.0`) instead of a command that ends. Its home starts from `home` (a saved
 * home's DAG) or empty, is saved every `snapshotSeconds` while it runs and when it stops (the
 * saved home is the job's output), and it stops after `idleTimeoutSeconds` without terminal
 * or port traffic.
 */
export const WorkspaceSpec = z.object({
  home: CidLink.nullable(),
  idleTimeoutSeconds: z.number().int().positive().max(366 * 24 * 3600),
  snapshotSeconds: z.number().int().min(2).max(366 * 24 * 3600)
}).strict()
export type WorkspaceSpec = z.infer<typeof WorkspaceSpec>

/** At most this many ports served by one job. */
export const MAX_SERVE_PORTS = 8
export const ServePorts = z.array(z.number().int().min(1).max(65_535)).min(1).max(MAX_SERVE_PORTS)
  .refine(ports => new Set(ports).size === ports.length, { message: 'each port is served once' })

export const JobSpec = z.object({
  version: z.literal(1),
  code: CidLink,
  inputs: z.array(z.object({ cid: CidLink, mount: MountPath }).strict()).max(MAX_INPUTS),
  environment: z.string().min(1).max(128),
  /** the environment's image as content; absent: whatever the provider holds under the name */
  image: JobImage.optional(),
  command: z.array(z.string().max(16 * 1024)).min(1).max(1024),
  resources: JobResources,
  timeoutSeconds: z.number().int().positive().max(366 * 24 * 3600),
  network: z.boolean(),
  /** present: a workspace, not a batch job */
  workspace: WorkspaceSpec.optional(),
  /**
   * present: container ports (`floe run --serve PORT`) the job's client may reach through
   * `/floe/tunnel/1.0.0` while the job runs; no other port of a batch job, and no other peer
   */
  serve: ServePorts.optional()
}).strict().superRefine((spec, ctx) => {
  const problem = mountProblem(spec.inputs.map(input => input.mount))
  if (problem != null) ctx.addIssue({ code: 'custom', path: ['inputs'], message: problem })
})
export type JobSpec = z.infer<typeof JobSpec>

/** Why a set of input mounts cannot be used together, or null when it can. */
export function mountProblem (mounts: readonly string[]): string | null {
  const seen = new Set<string>()
  for (const mount of mounts) {
    const parsed = MountPath.safeParse(mount)
    if (!parsed.success) return `mount ${JSON.stringify(mount)} ${parsed.error.issues[0]?.message ?? 'is not a path'}`
    if (FORBIDDEN_MOUNTS.includes(mount)) return `cannot mount an input at ${mount}`
    for (const reserved of [CODE_MOUNT, OUTPUT_MOUNT]) {
      if (mount === reserved || mount.startsWith(reserved + '/')) return `cannot mount an input at ${mount}: ${reserved} is the job's ${reserved === CODE_MOUNT ? 'code' : 'output'} folder`
    }
    if (mount === HELPER_DIR || mount.startsWith(HELPER_DIR + '/')) return `cannot mount an input at ${mount}: ${HELPER_DIR} holds the provider's own tools`
    if (seen.has(mount)) return `two inputs are mounted at ${mount}`
    seen.add(mount)
  }
  return null
}

/** The spec's block: dag-cbor with no undefined fields (dag-cbor has none). */
export function encodeJobSpec (spec: JobSpec): Uint8Array {
  const checked = JobSpec.parse(spec)
  const resources: Record<string, unknown> = { ...checked.resources }
  for (const key of Object.keys(resources)) if (resources[key] === undefined) delete resources[key]
  const block: Record<string, unknown> = { ...checked, resources }
  if (block.image === undefined) delete block.image
  if (block.workspace === undefined) delete block.workspace
  if (block.serve === undefined) delete block.serve
  const bytes = dagCbor.encode(block)
  if (bytes.byteLength > MAX_SPEC_BYTES) throw new RangeError(`the job spec takes ${bytes.byteLength} bytes; at most ${MAX_SPEC_BYTES} are allowed (a shorter command, fewer inputs)`)
  return bytes
}

export function decodeJobSpec (bytes: Uint8Array): JobSpec {
  if (bytes.byteLength > MAX_SPEC_BYTES) throw new RangeError(`job spec of ${bytes.byteLength} bytes; at most ${MAX_SPEC_BYTES} are allowed`)
  return JobSpec.parse(dagCbor.decode(bytes))
}

export async function specCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(dagCbor.code, await sha256.digest(bytes))
}

/** The spec as JSON (CIDs as strings), for the API and `--json`. */
export const JobSpecView = z.object({
  code: z.string(),
  inputs: z.array(z.object({ cid: z.string(), mount: z.string() })),
  environment: z.string(),
  image: z.object({ cid: z.string(), id: z.string(), bytes: z.number() }).strict().optional(),
  command: z.array(z.string()),
  resources: JobResources,
  timeoutSeconds: z.number(),
  network: z.boolean(),
  workspace: z.object({ home: z.string().nullable(), idleTimeoutSeconds: z.number(), snapshotSeconds: z.number() }).strict().optional(),
  serve: z.array(z.number()).optional()
})
export type JobSpecView = z.infer<typeof JobSpecView>

export function jobSpecView (spec: JobSpec): JobSpecView {
  return {
    code: spec.code.toString(),
    inputs: spec.inputs.map(input => ({ cid: input.cid.toString(), mount: input.mount })),
    environment: spec.environment,
    ...(spec.image != null ? { image: { cid: spec.image.cid.toString(), id: spec.image.id, bytes: spec.image.bytes } } : {}),
    command: spec.command,
    resources: spec.resources,
    timeoutSeconds: spec.timeoutSeconds,
    network: spec.network,
    ...(spec.workspace != null ? { workspace: { ...spec.workspace, home: spec.workspace.home?.toString() ?? null } } : {}),
    ...(spec.serve != null ? { serve: spec.serve } : {})
  }
}

/** What a job's shape asks of a provider: its resources and its time limit, as matching takes them. */
export function shapeRequirements (spec: Pick<JobSpec, 'resources' | 'timeoutSeconds'>): RequirementsInput {
  const { resources } = spec
  return {
    cpus: resources.cpus,
    memoryBytes: resources.memoryBytes,
    gpus: resources.gpus,
    ...(resources.gpuModel != null ? { gpuModel: resources.gpuModel } : {}),
    ...(resources.minGpuMemoryBytes != null ? { minGpuMemoryBytes: resources.minGpuMemoryBytes } : {}),
    maxSeconds: spec.timeoutSeconds
  }
}
