export { importPath, type ImportOptions, type ImportSummary, type CidVersion, type ChunkerName } from './import.js'
export { exportDag, type ExportSummary } from './export.js'
export { walkTree, snapshotIgnore, DEFAULT_IGNORES } from './walk.js'
export { ContentPathError, FileChangedError, ContentNotFoundError, UnsafeContentError } from './errors.js'
