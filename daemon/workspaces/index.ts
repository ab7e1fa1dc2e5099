export { workspaceService, type WorkspaceService, type WorkspaceServiceComponents, type WorkspaceStart, type Forward } from './workspace-service.js'
export { ForwardHostError, PortInUseError, WorkspaceStateError } from './errors.js'
