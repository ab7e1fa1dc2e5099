import { z } from 'zod'
import { defineRoute } from './route.js'

const PREFIX = '/api/v1'

/** The market as this node has seen it deal, beside the offers themselves (`providers`). */
export const marketRoutes = {
  marketReliability: defineRoute({
    method: 'GET',
    path: `${PREFIX}/market/reliability`,
    summary: "each offering provider's reliability here: the share of the jobs it took that it carried to an accepted end (null: none ended or lost yet)",
    input: z.object({}).strict(),
    output: z.object({ providers: z.array(z.object({ peer: z.string(), reliability: z.number().min(0).max(1).nullable() })) })
  })
} as const
