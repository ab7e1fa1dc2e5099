export { projectLog, ownerName, DEFAULT_PROJECT_NAME, type ProjectLog, type ProjectLogComponents } from './project-log.js'
export { projectSync, type ProjectSync, type ProjectSyncComponents } from './sync.js'
export { projectContentAccess } from './content-grants.js'
export { projectHistory } from './history.js'
export { repairProjects, type RepairReport } from './repair.js'
export { exportProjectCar, importProjectCar } from './car.js'
export { rowView, type JobRow } from './job-rows.js'
export type { ProjectMeta } from './log-store.js'
export {
  AmbiguousProjectError, EntryRefusedError, InvalidProjectRequestError, NotInvitedError, ProjectNotFoundError,
  ProjectPermissionError, ProjectSyncError
} from './errors.js'
