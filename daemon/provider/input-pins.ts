import type { CID } from 'multiformats/cid'
import type { JobSpec } from '../../protocol/jobs/spec.js'
import type { GcGuard } from '../store/gc-guard.js'
import { pinReasons } from '../store/pin-reasons.js'
import type { PinSet } from '../store/pins.js'

/**
 * What a job brings that the provider fetches and keeps while it runs: its code, its inputs
 * and, for a workspace restored from a save, its home. Pinning and unpinning both take the
 * roots from here, so neither can forget one the other names (a restored home was once
 * pinned and never unpinned).
 */
export function inputRoots (spec: Pick<JobSpec, 'code' | 'inputs' | 'workspace'>): CID[] {
  const home = spec.workspace?.home ?? null
  return [spec.code, ...spec.inputs.map(input => input.cid), ...(home != null ? [home] : [])]
}

/** Pins the job's inputs before they are fetched (under the gc guard, so gc cannot take blocks between). */
export async function pinInputs (components: { pins: Pick<PinSet, 'add'>, guard: Pick<GcGuard, 'shared'> }, jobId: string, spec: Pick<JobSpec, 'code' | 'inputs' | 'workspace'>): Promise<void> {
  await components.guard.shared(async () => {
    for (const root of inputRoots(spec)) await pinReasons.jobInput(jobId).add(components.pins, root)
  })
}

/** Lets the job's inputs go once it has ended (the input cache keeps its own copies). */
export async function unpinInputs (components: { pins: Pick<PinSet, 'remove'> }, jobId: string, spec: Pick<JobSpec, 'code' | 'inputs' | 'workspace'>): Promise<void> {
  for (const root of inputRoots(spec)) await pinReasons.jobInput(jobId).remove(components.pins, root)
}
