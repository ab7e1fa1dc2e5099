import type { ApiHandlers } from './server.js'

export interface MarketHandlerComponents {
  /** the peers with an offer in the book now */
  offering: () => string[]
  /** 0..1, undefined for a provider with no finished or lost job here (daemon/jobs/reliability.ts) */
  reliability: (peer: string) => number | undefined
}

/** The market routes' operations. */
export function marketHandlers ({ offering, reliability }: MarketHandlerComponents): Pick<ApiHandlers, 'marketReliability'> {
  return {
    marketReliability: async () => ({ providers: offering().map(peer => ({ peer, reliability: reliability(peer) ?? null })) })
  }
}
