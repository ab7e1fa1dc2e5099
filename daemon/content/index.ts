export { importPath, type ImportOptions, type ImportSummary, type CidVersion, type ChunkerName } from './import.js'
export { exportDag, measureDag, freeSpaceBudget, DEFAULT_MAX_ENTRIES, type ExportSummary, type ExportBudget } from './export.js'
export { walkTree, snapshotIgnore, DEFAULT_IGNORES } from './walk.js'
export { ContentPathError, FileChangedError, ContentNotFoundError, UnsafeContentError, ContentTooLargeError } from './errors.js'
