export { workspaceService, type WorkspaceService, type WorkspaceServiceComponents, type WorkspaceStart, type Forward, type WorkspaceRun } from './workspace-service.js'
export { ForwardHostError, PortInUseError, WorkspaceExistsError, WorkspaceGitError, WorkspaceNameError, WorkspaceStateError } from './errors.js'
export { openSavedWorkspace } from './saved-workspace.js'
export { gitClone } from './git-clone.js'
