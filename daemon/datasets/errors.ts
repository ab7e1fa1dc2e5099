export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError'
}

export class InvalidDatasetNameError extends Error {
  override name = 'InvalidDatasetNameError'
}

export class InvalidRefError extends Error {
  override name = 'InvalidRefError'
}
