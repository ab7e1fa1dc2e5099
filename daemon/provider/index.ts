export { providerJobs, type ProviderJobs, type ProviderJobsComponents, type Submission } from './provider-jobs.js'
export { jobServer, type JobServer, type JobServerComponents } from './job-server.js'
export { tunnelServer, type TunnelServer, type TunnelServerComponents } from './tunnel-server.js'
export { ExecutorError, JobDiskError } from './errors.js'
