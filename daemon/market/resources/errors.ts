export class DiskStatError extends Error {
  override name = 'DiskStatError'
}
