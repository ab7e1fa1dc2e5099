export { startApiServer, buildApiApp, MAX_JSON_BODY_BYTES, type ApiServer, type ApiHandlers } from './server.js'
export { apiHandlers } from './handlers.js'
export { isLoopbackHost, ownOrigins } from './guard.js'
