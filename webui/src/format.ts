export { ago, jobDuration, latestMetrics, money, shortPeer } from '../../client/format.js'
export { formatSize } from '../../protocol/market/requirements.js'

export const FINAL = new Set(['success', 'failed', 'timeout', 'stopped', 'lost'])
