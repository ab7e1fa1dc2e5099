export { environmentService, type EnvironmentService } from './service.js'
export { environmentCache, type EnvironmentCache, type EnvironmentFetch } from './environment-cache.js'
export { createImageClient } from './docker-images.js'
export { EnvironmentNotFoundError, InvalidEnvironmentError, NotAnImageError, EnvironmentDiskError, ImageEngineError } from './errors.js'
