export { jobService, BUILTIN_ENVIRONMENT, type JobService, type JobServiceComponents, type JobContentAccess, type RunRequest, type RerunRequest } from './job-service.js'
export { providerChannel, type ProviderChannelComponents } from './provider-channel.js'
export { InvalidJobError, JobNotFoundError, JobStateError, NoProviderError, UnknownEnvironmentError } from './errors.js'
