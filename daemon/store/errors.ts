export class StoreFullError extends Error {
  override name = 'StoreFullError'
}

export class CorruptCarError extends Error {
  override name = 'CorruptCarError'
}
