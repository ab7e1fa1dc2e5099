/** No environment by that name here (and, for a job, no offer holds it). */
export class EnvironmentNotFoundError extends Error {
  override name = 'EnvironmentNotFoundError'
}

/** A request about environments that cannot be served as given: a bad name, a FROM in --file, … */
export class InvalidEnvironmentError extends Error {
  override name = 'InvalidEnvironmentError'
}

/** A tar or a DAG that is not a Docker image (`docker save`'s layout), or not the image it claims to be. */
export class NotAnImageError extends Error {
  override name = 'NotAnImageError'
}

/** Not enough disk, or too little of the environments' budget, for an image: said before fetching it. */
export class EnvironmentDiskError extends Error {
  override name = 'EnvironmentDiskError'
}

/** Docker refused to load, save or build an image. */
export class ImageEngineError extends Error {
  override name = 'ImageEngineError'
}
