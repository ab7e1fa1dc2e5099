import { z } from 'zod'
import { Offer } from './offer.js'
import { ResourcesView } from './resources.js'
import { ProviderSettings } from './settings.js'

/** A provider in the offer book, as `floe providers` lists it. */
export const ProviderRow = z.object({
  offer: Offer,
  /** round-trip time when connected directly */
  latencyMs: z.number().nullable(),
  lastSeen: z.string()
})
export type ProviderRow = z.infer<typeof ProviderRow>

/** This node as a provider (`floe provider show`): its settings, its offer, what it measured. */
export const ProviderStatus = z.object({
  settings: ProviderSettings,
  /** the offer being published; null when provider mode is off */
  offer: Offer.nullable(),
  resources: ResourcesView
})
export type ProviderStatus = z.infer<typeof ProviderStatus>
