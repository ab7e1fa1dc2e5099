export { ago, jobDuration, latestMetrics, money, shortPeer } from '../../client/format.js'
export { formatSize } from '../../protocol/market/requirements.js'

export { isFinal } from '../../protocol/jobs/job.js'
