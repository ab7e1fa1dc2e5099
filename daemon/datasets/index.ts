export { datasetService, type DatasetComponents, type UploadRequest } from './service.js'
export { resolveDataRef, type ResolvedRef } from './ref.js'
export { listDatasets, checkDatasetName } from './records.js'
export { DatasetNotFoundError, InvalidDatasetNameError, InvalidRefError } from './errors.js'
